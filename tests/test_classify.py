"""Classification rules: pinned boundary days, rule order, and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.classify import Windows, classify, thresholds
from monitor.durations import Duration
from monitor.models import (
    FAILED_OUTCOMES,
    Observation,
    Outcome,
    Platform,
    RosterFacts,
    RosterStatus,
    State,
)

SH = ZoneInfo("Asia/Shanghai")
DEFAULT = Windows()


def at(day: date, hh: int = 10, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=SH)


def seen(
    observed: date,
    post: date | None,
    outcome: Outcome = Outcome.OK,
    **extra: object,
) -> Observation:
    return Observation(
        account=1,
        observed_at=at(observed, 9),
        source="test",
        outcome=outcome,
        latest_post_at=at(post, 8) if post else None,
        **extra,  # type: ignore[arg-type]
    )


def judge(
    post: date | None,
    as_of: date,
    windows: Windows = DEFAULT,
    *,
    status: RosterStatus = RosterStatus.OPERATING,
    outcome: Outcome = Outcome.OK,
    observed: date | None = None,
    platform: Platform = Platform.WEIBO,
    **extra: object,
):
    obs = seen(observed or as_of, post, outcome, **extra)
    return classify(
        RosterFacts(platform, status), obs, windows, as_of, SH, last_checked_at=obs.observed_at
    )


def window(zombie: str, warn: str = "3d") -> Windows:
    return Windows(zombie_after=Duration.parse(zombie), warn_before=Duration.parse(warn))


# -- pinned examples (README "Windows") ------------------------------------------------


def test_14_day_window_a_post_on_feb_18_is_zombie_on_march_4():
    v = judge(date(2020, 2, 18), date(2020, 3, 4), window("14d"))
    assert v.state is State.ZOMBIE
    assert v.label == "僵尸微博"
    assert v.days_silent == 15


def test_14_day_window_a_post_on_feb_19_is_only_a_warning_on_march_4():
    v = judge(date(2020, 2, 19), date(2020, 3, 4), window("14d"))
    assert v.state is State.WARNING


def test_14_day_window_a_post_on_feb_19_is_active_without_warning_days():
    v = judge(date(2020, 2, 19), date(2020, 3, 4), window("14d", "0d"))
    assert v.state is State.ACTIVE


def test_one_month_window_on_march_31_2020_clamps_to_feb_29():
    d = date(2020, 3, 31)
    assert thresholds(window("1mo"), d).zombie_before == date(2020, 2, 29)
    assert judge(date(2020, 2, 28), d, window("1mo")).state is State.ZOMBIE
    assert judge(date(2020, 2, 29), d, window("1mo")).state is State.WARNING
    assert judge(date(2020, 3, 2), d, window("1mo")).state is State.WARNING
    assert judge(date(2020, 3, 3), d, window("1mo")).state is State.ACTIVE


def test_one_month_before_march_31_2021_is_feb_28():
    assert Duration.parse("1mo").before(date(2021, 3, 31)) == date(2021, 2, 28)


def test_warning_window_is_added_after_the_month_is_subtracted():
    # D - 1mo = 2021-02-28, then + 3d = 2021-03-03 (not 2021-03-31 - 28d).
    limits = thresholds(window("1mo"), date(2021, 3, 31))
    assert limits.warning_before == date(2021, 3, 3)


def test_suspended_window_boundary():
    d = date(2020, 8, 31)
    # 6mo before 2020-08-31 is 2020-02-29.
    assert judge(date(2020, 2, 28), d).state is State.SUSPENDED
    assert judge(date(2020, 2, 29), d).state is State.ZOMBIE


# -- rule order ---------------------------------------------------------------------------


def test_rule_1_roster_cancelled_wins_over_everything():
    v = judge(None, date(2020, 3, 4), status=RosterStatus.CANCELLED, outcome=Outcome.NO_CONTENT)
    assert v.state is State.CANCELLED
    v = classify(
        RosterFacts(Platform.WEIBO, RosterStatus.CANCELLED), None, DEFAULT, date(2020, 3, 4), SH
    )
    assert v.state is State.CANCELLED


def test_rule_2_no_evidence_is_unknown_never_zombie():
    v = classify(RosterFacts(Platform.WEIBO), None, DEFAULT, date(2020, 3, 4), SH)
    assert v.state is State.UNKNOWN
    assert v.label == "未检测"
    assert v.reason == "never checked"
    v = classify(
        RosterFacts(Platform.WEIBO),
        None,
        DEFAULT,
        date(2020, 3, 4),
        SH,
        last_checked_at=at(date(2020, 3, 4)),
    )
    assert v.state is State.UNKNOWN
    assert v.label == "采集失败"


def test_rule_2_evidence_older_than_max_age_is_unknown():
    d = date(2020, 3, 10)
    # max age 3d: observed 03-07 is still fresh, 03-06 is stale.
    assert judge(date(2019, 1, 1), d, observed=date(2020, 3, 7)).state is State.SUSPENDED
    stale = judge(date(2019, 1, 1), d, observed=date(2020, 3, 6))
    assert stale.state is State.UNKNOWN
    assert "2020-03-06" in stale.reason


def test_rule_2_stale_evidence_beats_stopped_roster():
    v = judge(
        date(2020, 3, 1), date(2020, 3, 10), status=RosterStatus.STOPPED, observed=date(2020, 3, 1)
    )
    assert v.state is State.UNKNOWN


def test_rule_3_not_found_is_cancelled_and_a_roster_problem_when_operating():
    v = judge(None, date(2020, 3, 4), outcome=Outcome.NOT_FOUND)
    assert v.state is State.CANCELLED
    assert v.roster_problem
    stopped = judge(None, date(2020, 3, 4), outcome=Outcome.NOT_FOUND, status=RosterStatus.STOPPED)
    assert stopped.state is State.CANCELLED
    assert stopped.roster_problem is None


def test_rule_3_restricted_is_suspended_with_platform_reason():
    v = judge(date(2020, 3, 3), date(2020, 3, 4), outcome=Outcome.RESTRICTED)
    assert v.state is State.SUSPENDED
    assert "平台限制" in v.reason


def test_rule_4_roster_stopped_with_a_live_account_is_suspended_even_if_active():
    v = judge(date(2020, 3, 3), date(2020, 3, 4), status=RosterStatus.STOPPED)
    assert v.state is State.SUSPENDED
    assert v.label == "停运未注销"


def test_rule_5_no_content_is_zombie_with_reason():
    v = judge(None, date(2020, 3, 4), outcome=Outcome.NO_CONTENT, platform=Platform.WECHAT)
    assert v.state is State.ZOMBIE
    assert v.no_content
    assert v.label == "僵尸微信"
    assert "无内容" in v.reason


def test_other_platforms_are_labelled_zombie_account():
    v = judge(date(2019, 12, 1), date(2020, 3, 4), platform=Platform.DOUYIN)
    assert v.label == "僵尸账号"


def test_post_dated_after_its_observation_counts_as_posted_at_the_observation():
    obs = Observation(
        account=1,
        observed_at=at(date(2020, 3, 4), 9),
        source="test",
        outcome=Outcome.OK,
        latest_post_at=at(date(2020, 3, 9), 9),
    )
    v = classify(RosterFacts(Platform.WEIBO), obs, DEFAULT, date(2020, 3, 4), SH)
    assert v.latest_post_date == date(2020, 3, 4)
    assert v.days_silent == 0


def test_silent_since_means_older_than_that_day_so_suspended_never_no_content():
    d = date(2020, 9, 1)
    start = Duration.parse("6mo").before(d)
    v = judge(None, d, silent_since=start)
    assert v.state is State.SUSPENDED
    assert not v.no_content
    assert v.silent_since == start


def test_time_zone_edge_a_post_at_0001_shanghai_is_that_calendar_day():
    # 2020-02-18 16:01 UTC is 2020-02-19 00:01 in Shanghai: not zombie on 03-04 with 14d.
    obs = Observation(
        account=1,
        observed_at=datetime(2020, 3, 4, 1, 0, tzinfo=UTC),
        source="test",
        outcome=Outcome.OK,
        latest_post_at=datetime(2020, 2, 18, 16, 1, tzinfo=UTC),
    )
    v = classify(RosterFacts(Platform.WEIBO), obs, window("14d", "0d"), date(2020, 3, 4), SH)
    assert v.state is State.ACTIVE
    # One minute before local midnight is still 2020-02-18: zombie.
    obs2 = Observation(
        account=1,
        observed_at=datetime(2020, 3, 4, 1, 0, tzinfo=UTC),
        source="test",
        outcome=Outcome.OK,
        latest_post_at=datetime(2020, 2, 18, 15, 59, tzinfo=UTC),
    )
    assert (
        classify(RosterFacts(Platform.WEIBO), obs2, window("14d", "0d"), date(2020, 3, 4), SH).state
        is State.ZOMBIE
    )


def test_classify_refuses_failed_checks_as_evidence():
    with pytest.raises(ValueError):
        judge(None, date(2020, 3, 4), outcome=Outcome.TRANSIENT)


# -- properties ------------------------------------------------------------------------------

days = st.dates(min_value=date(2015, 1, 1), max_value=date(2030, 12, 31))
durations = st.builds(Duration, months=st.integers(0, 12), days=st.integers(0, 60))
windows_st = st.builds(
    Windows,
    zombie_after=durations,
    suspended_after=durations,
    warn_before=st.builds(Duration, days=st.integers(0, 14)),
    evidence_max_age=st.builds(Duration, days=st.integers(0, 10)),
)
evidence_outcomes = st.sampled_from(
    [Outcome.OK, Outcome.NO_CONTENT, Outcome.NOT_FOUND, Outcome.RESTRICTED]
)
statuses = st.sampled_from(list(RosterStatus))


@settings(max_examples=300, deadline=None)
@given(
    observed=days, gap=st.integers(0, 800), later=st.integers(0, 400), w=windows_st, status=statuses
)
def test_without_new_observations_a_zombie_stays_zombie_or_gets_worse_or_unknown(
    observed, gap, later, w, status
):
    post = observed - timedelta(days=gap)
    d1 = observed
    first = judge(post, d1, w, status=status, observed=observed)
    if first.state is not State.ZOMBIE:
        return
    second = judge(post, d1 + timedelta(days=later), w, status=status, observed=observed)
    assert second.state in {State.ZOMBIE, State.SUSPENDED, State.UNKNOWN}


@settings(max_examples=300, deadline=None)
@given(
    observed=days,
    gap=st.integers(0, 800),
    age=st.integers(0, 400),
    w=windows_st,
    status=statuses,
    outcome=evidence_outcomes,
)
def test_no_verdict_but_unknown_or_cancelled_without_fresh_evidence(
    observed, gap, age, w, status, outcome
):
    as_of = observed + timedelta(days=age)
    v = judge(
        observed - timedelta(days=gap), as_of, w, status=status, observed=observed, outcome=outcome
    )
    if observed < w.evidence_max_age.before(as_of):
        assert v.state in {State.UNKNOWN, State.CANCELLED}


@settings(max_examples=300, deadline=None)
@given(
    d=days,
    gap=st.one_of(st.none(), st.integers(0, 800)),
    failures=st.lists(
        st.tuples(st.integers(0, 10), st.sampled_from(sorted(FAILED_OUTCOMES))), max_size=6
    ),
    w=windows_st,
)
def test_failed_checks_never_turn_a_verdict_into_zombie_or_suspended(d, gap, failures, w):
    """Failures only update last_checked_at; the evidence (or its absence) decides."""
    evidence = None
    if gap is not None:
        evidence = seen(d - timedelta(days=3), d - timedelta(days=3 + gap))
    before = classify(RosterFacts(Platform.WEIBO), evidence, w, d, SH)
    last = at(d, 12)
    after = classify(
        RosterFacts(Platform.WEIBO), evidence, w, d, SH, last_checked_at=last if failures else None
    )
    assert after.state == before.state
    if before.state not in {State.ZOMBIE, State.SUSPENDED}:
        assert after.state not in {State.ZOMBIE, State.SUSPENDED}
