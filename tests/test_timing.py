"""Timing and backoff rules: pure functions of settings, no database, no clock."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.checks.backoff import BACKOFF_OUTCOMES, answer, health_key, pause_for
from monitor.checks.timing import interval_for, next_check_at
from monitor.dates import parse_time_of_day
from monitor.models import AccountView, Outcome, Platform, RosterStatus
from monitor.settings import Settings
from monitor.store import SourceHealth

START = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


def view(id_: int = 7, platform: Platform = Platform.WEIBO) -> AccountView:
    return AccountView(
        id=id_,
        platform=platform,
        account_id="123",
        name="x",
        unit="u",
        unit_id=1,
        region="r",
        status=RosterStatus.OPERATING,
        roster_order=0,
    )


def test_transient_failures_are_retried_after_5_30_and_120_minutes_then_the_interval():
    settings = Settings(schedule={"jitter_s": 0})
    rng = random.Random(0)
    waits = []
    for failures in (1, 2, 3, 4):
        at = next_check_at(settings, view(), Outcome.TRANSIENT, failures, None, START, rng)
        waits.append((at - START).total_seconds() / 60)
    assert 5 <= waits[0] <= 5.5 and 30 <= waits[1] <= 33 and 120 <= waits[2] <= 132
    assert waits[3] == 24 * 60


def test_a_retry_after_longer_than_the_ladder_is_honoured():
    settings = Settings(schedule={"jitter_s": 0})
    at = next_check_at(settings, view(), Outcome.RATE_LIMITED, 1, 3600.0, START, random.Random(0))
    assert timedelta(hours=1) <= at - START <= timedelta(hours=1.1)


def test_intervals_come_from_the_account_then_the_platform_then_the_default():
    settings = Settings(
        schedule={
            "interval_h": 24,
            "platform_interval_h": {"weibo": 12},
            "account_interval_h": {"7": 6, "feed:123": 3},
        }
    )
    assert interval_for(settings, view(7)) == timedelta(hours=6)
    assert interval_for(settings, view(8)) == timedelta(hours=12)
    assert interval_for(settings, view(9, Platform.FEED)) == timedelta(hours=3)
    assert interval_for(settings, view(9, Platform.WECHAT)) == timedelta(hours=24)


def test_jitter_spreads_the_next_checks_of_many_accounts():
    settings = Settings(schedule={"jitter_s": 1800})
    rng = random.Random(0)
    times = {next_check_at(settings, view(i), Outcome.OK, 0, None, START, rng) for i in range(400)}
    spread = max(times) - min(times)
    assert len(times) == 400 and spread > timedelta(minutes=50)
    assert all(abs(t - START - timedelta(hours=24)) <= timedelta(minutes=30) for t in times)


def test_a_pause_doubles_up_to_its_ceiling_and_honours_retry_after():
    settings = Settings(schedule={"source_backoff_base_s": 60, "source_backoff_max_s": 300})
    assert [pause_for(settings, n, None).total_seconds() for n in (1, 2, 3, 4)] == [
        60,
        120,
        240,
        300,
    ]
    assert pause_for(settings, 1, 900).total_seconds() == 900


def test_a_refused_check_is_not_retried_soon():
    settings = Settings(schedule={"jitter_s": 0})
    at = next_check_at(settings, view(), Outcome.REFUSED, 1, None, START, random.Random(0))
    assert at - START == timedelta(hours=24)


@pytest.mark.parametrize("text", ["25:99", "99:99", "xx", "-1:00", "12:60"])
def test_times_of_day_outside_the_clock_are_refused(text):
    with pytest.raises(ValueError):
        parse_time_of_day(text)


# -- backoff ----------------------------------------------------------------------------------


def run(outcomes, settings=None, accounts=None):
    settings = settings or Settings(
        schedule={"source_backoff_after": 3, "source_backoff_base_s": 60}
    )
    health = SourceHealth("weibo")
    steps = []
    for i, outcome in enumerate(outcomes):
        account = accounts[i] if accounts else i
        step = answer(health, account, outcome, None, START, settings)
        steps.append(step)
        health = step.health
    return health, steps


def test_three_refusing_answers_from_distinct_accounts_pause_the_source_and_restart_the_run():
    health, steps = run([Outcome.RATE_LIMITED, Outcome.BLOCKED, Outcome.RATE_LIMITED])
    assert [s.pause for s in steps[:2]] == [None, None]
    assert steps[2].pause == timedelta(seconds=60)
    assert (
        health.level == 1
        and health.streak == []
        and health.paused_until == START + timedelta(seconds=60)
    )


def test_the_same_account_refused_again_does_not_lengthen_the_run():
    health, steps = run([Outcome.RATE_LIMITED] * 5, accounts=[1, 1, 1, 2, 2])
    assert health.streak == [1, 2] and all(s.pause is None for s in steps)


@pytest.mark.parametrize("breaker", [Outcome.OK, Outcome.TRANSIENT, Outcome.PARSE_ERROR])
def test_any_other_platform_answer_ends_the_run_and_only_evidence_resets_the_level(breaker):
    health, _ = run([Outcome.RATE_LIMITED] * 3 + [Outcome.RATE_LIMITED, breaker])
    assert health.streak == []
    assert health.level == (0 if breaker.is_evidence else 1)


def test_a_refused_check_is_our_guard_not_the_platform_and_changes_nothing():
    before, _ = run([Outcome.RATE_LIMITED, Outcome.RATE_LIMITED], accounts=[1, 2])
    step = answer(before, 3, Outcome.REFUSED, None, START, Settings())
    assert not step.changed and step.health == before and step.pause is None
    assert Outcome.REFUSED not in BACKOFF_OUTCOMES and not Outcome.REFUSED.is_platform_answer


def test_feeds_count_per_host_and_other_sources_whole():
    def feed(url):
        return AccountView(
            1, Platform.DOUYIN, "x", "x", "u", 1, "r", RosterStatus.OPERATING, 0, feed_url=url
        )

    assert health_key("feed", feed("https://rsshub.lan/douyin/1")) == "feed:rsshub.lan"
    assert health_key("feed", feed("http://10.0.0.5:1200/x")) == "feed:10.0.0.5:1200"
    assert health_key("weibo", view()) == "weibo"
    assert health_key("feed", feed("http://[bad")) == "feed:?"


@pytest.mark.parametrize("retry_after", [1e300, float(10**30)])
def test_an_absurd_retry_after_is_capped_not_an_overflow(retry_after):
    settings = Settings(schedule={"jitter_s": 0})
    at = next_check_at(
        settings, view(), Outcome.RATE_LIMITED, 1, retry_after, START, random.Random(0)
    )
    assert at - START <= timedelta(days=1.1)
    assert pause_for(settings, 1, retry_after) == timedelta(days=1)
