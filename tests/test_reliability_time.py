"""Reliability: verdicts at the edges of time, through the real CLI on a real SQLite file.

Month ends, leap days, the Asia/Shanghai midnight (23:59 / 00:01, also written in
UTC and in other offsets), the as-of day's own end, and the evidence freshness
boundary, each as `monitor import` + `monitor observe --at ... --latest-post ...`
+ `monitor status --json --as-of ...`; then a hypothesis property: over random
moments, offsets, outcomes, roster statuses and policies, the CLI's verdict equals
`monitor.classify.classify` on the same inputs.

Reproduce: /work/venv/bin/python -m pytest tests/test_reliability_time.py -q
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.classify import Windows, classify
from monitor.cli import main
from monitor.dates import end_of_day, zone
from monitor.durations import Duration
from monitor.models import Observation, Outcome, Platform, RosterFacts, RosterStatus

SH = zone("Asia/Shanghai")
STATUS_WORD = {
    RosterStatus.OPERATING: "运行",
    RosterStatus.STOPPED: "停运",
    RosterStatus.CANCELLED: "已注销",
}


def roster(status: RosterStatus = RosterStatus.OPERATING) -> str:
    return f"类别,主办单位,平台,账号名称,账号ID,状态\n市直部门,市统计局,微博,统计发布,1001,{STATUS_WORD[status]}\n"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith("MONITOR_"):
            monkeypatch.delenv(key)


@dataclass
class Cli:
    db: Path
    capsys: pytest.CaptureFixture[str]

    def run(self, *args: str) -> tuple[int, str, str]:
        code = main(["--db", str(self.db), *args])
        out, err = self.capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    def ok(self, *args: str) -> str:
        code, out, err = self.run(*args)
        assert code == 0, (args, err)
        return out

    def observe(self, at: str, *finding: str) -> None:
        self.ok("observe", "weibo:1001", "--at", at, *finding)

    def status(self, as_of: str, *policy: str) -> dict:
        records = json.loads(self.ok("status", "--json", "--as-of", as_of, *policy))
        assert len(records) == 1
        return records[0]


@pytest.fixture
def cli(tmp_path, capsys) -> Cli:
    c = Cli(tmp_path / "m.db", capsys)
    path = tmp_path / "r.csv"
    path.write_text(roster(), encoding="utf-8")
    c.ok("import", str(path))
    return c


# --- the Shanghai midnight, for the latest post ---------------------------------------

W14 = ("--zombie-after", "14d")


@pytest.mark.parametrize(
    ("post", "policy", "state", "post_day", "days_silent"),
    [
        # The national 14-day line as Ankang's notice of 2020-03-04 applies it.
        ("2020-02-18T23:59+08:00", W14, "zombie", "2020-02-18", 15),
        ("2020-02-19T00:01+08:00", W14, "warning", "2020-02-19", 14),
        ("2020-02-19T00:01+08:00", (*W14, "--warn-before", "0d"), "active", "2020-02-19", 14),
        ("2020-02-18T23:59", W14, "zombie", "2020-02-18", 15),  # naive = Shanghai
        # The same instants written in UTC: the Shanghai calendar date decides.
        ("2020-02-18T15:59Z", W14, "zombie", "2020-02-18", 15),
        ("2020-02-18T16:01Z", W14, "warning", "2020-02-19", 14),
        ("2020-02-18T16:01:00+00:00", W14, "warning", "2020-02-19", 14),
        # Still 02-18 in New York, already 02-19 12:30 in Shanghai.
        ("2020-02-18T23:30-05:00", W14, "warning", "2020-02-19", 14),
        # 02-19 in Auckland, still 02-18 20:59 in Shanghai.
        ("2020-02-19T01:59+13:00", W14, "zombie", "2020-02-18", 15),
    ],
)
def test_a_post_at_the_shanghai_midnight_counts_on_its_shanghai_date(
    cli, post, policy, state, post_day, days_silent
):
    cli.observe("2020-03-04T10:00+08:00", "--latest-post", post)
    record = cli.status("2020-03-04", *policy)
    assert record["state"] == state, record
    assert record["latest_post_date"] == post_day
    assert record["days_silent"] == days_silent
    assert record["latest_post_at"].endswith("+08:00")


# --- the as-of day's own end, for the observation -------------------------------------


def test_an_observation_at_0001_of_the_next_day_is_ignored_for_the_day_before(cli):
    cli.observe("2020-03-01T10:00+08:00", "--latest-post", "2020-02-25")
    cli.observe("2020-03-05T00:01+08:00", "--no-content")
    before = cli.status("2020-03-04")
    assert before["state"] == "active", before
    assert before["evidence_observed_at"] == "2020-03-01T10:00:00+08:00"
    assert before["last_checked_at"] == "2020-03-01T10:00:00+08:00"
    after = cli.status("2020-03-05")
    assert after["state"] == "zombie" and after["no_content"] is True, after


def test_an_observation_at_2359_of_the_as_of_day_counts(cli):
    cli.observe("2020-03-01T10:00+08:00", "--latest-post", "2020-02-25")
    cli.observe("2020-03-04T23:59+08:00", "--not-found")
    record = cli.status("2020-03-04")
    assert record["state"] == "cancelled", record
    assert record["evidence_observed_at"] == "2020-03-04T23:59:00+08:00"


@pytest.mark.parametrize(
    ("at", "counts_on_0304"),
    [
        ("2020-03-04T15:59Z", True),  # 23:59 in Shanghai
        ("2020-03-04T16:01Z", False),  # 00:01 on 03-05 in Shanghai
        ("2020-03-04T23:59:59.999999+08:00", True),
        ("2020-03-05T00:00:00+08:00", False),
        ("2020-03-04T10:59-05:00", True),  # 15:59Z = 23:59 in Shanghai
        ("2020-03-04T11:01-05:00", False),  # 16:01Z = 03-05 00:01 in Shanghai
    ],
)
def test_the_as_of_day_ends_at_the_shanghai_midnight_whatever_offset_the_time_is_written_in(
    cli, at, counts_on_0304
):
    cli.observe("2020-03-01T10:00+08:00", "--latest-post", "2020-02-25")
    cli.observe(at, "--no-content")
    expected_moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    assert (expected_moment <= end_of_day(date(2020, 3, 4), SH)) is counts_on_0304
    record = cli.status("2020-03-04")
    assert record["state"] == ("zombie" if counts_on_0304 else "active"), record


def test_an_account_observed_only_after_the_as_of_day_is_unknown_then(cli):
    cli.observe("2020-03-05T00:01+08:00", "--latest-post", "2020-03-04T23:00+08:00")
    then = cli.status("2020-03-04")
    assert then["state"] == "unknown" and then["last_checked_at"] is None, then
    assert cli.status("2020-03-05")["state"] == "active"


def test_a_post_dated_after_its_observation_counts_as_posted_at_the_observation(cli):
    cli.observe("2020-03-04T10:00+08:00", "--latest-post", "2020-03-20")
    record = cli.status("2020-03-04")
    assert record["state"] == "active"
    assert record["latest_post_at"] == "2020-03-04T10:00:00+08:00"
    assert record["days_silent"] == 0


# --- month ends and leap days -----------------------------------------------------------

# (as-of D, zombie window, extra flags, the first non-zombie day = D - window)
CLAMPS = [
    ("2020-03-31", "1mo", (), "2020-02-29"),  # leap year
    ("2021-03-31", "1mo", (), "2021-02-28"),  # non-leap year
    ("2021-03-29", "1mo", (), "2021-02-28"),  # 02-29 does not exist in 2021
    ("2020-05-31", "1mo", (), "2020-04-30"),
    ("2020-12-31", "1mo", (), "2020-11-30"),
    ("2021-01-31", "1mo", (), "2020-12-31"),  # across the year end
    ("2021-03-01", "1mo", (), "2021-02-01"),
    ("2020-02-29", "1y", ("--suspended-after", "2y"), "2019-02-28"),  # leap day minus a year
    ("2024-02-29", "1mo", (), "2024-01-29"),
    ("2020-08-31", "6mo", ("--suspended-after", "1y"), "2020-02-29"),
]


@pytest.mark.parametrize(("as_of", "window", "extra", "edge"), CLAMPS)
def test_month_windows_are_clamped_at_month_end(tmp_path, capsys, as_of, window, extra, edge):
    edge_day = date.fromisoformat(edge)
    flags = ("--zombie-after", window, "--warn-before", "0d", *extra)
    for post, state in (
        (edge_day - timedelta(days=1), "zombie"),
        (edge_day, "active"),
    ):
        c = Cli(tmp_path / f"{post}.db", capsys)
        (tmp_path / "r.csv").write_text(roster(), encoding="utf-8")
        c.ok("import", str(tmp_path / "r.csv"))
        # The post at 23:59 of its day, the observation on D itself.
        c.observe(f"{as_of}T09:00+08:00", "--latest-post", f"{post.isoformat()}T23:59+08:00")
        record = c.status(as_of, *flags)
        assert record["state"] == state, (as_of, window, post, record)
        assert record["latest_post_date"] == post.isoformat()


def test_the_pinned_1mo_examples_of_the_readme_with_warnings(cli):
    # README: 1mo at 2020-03-31: 02-28 zombie, 02-29 warning, 03-03 active.
    for post, state in (
        ("2020-02-28", "zombie"),
        ("2020-02-29", "warning"),
        ("2020-03-02", "warning"),
    ):
        cli.observe("2020-03-31T09:00+08:00", "--latest-post", f"{post}T12:00+08:00")
        assert cli.status("2020-03-31")["state"] == state, post
    cli.observe("2020-03-31T09:30+08:00", "--latest-post", "2020-03-03T00:00+08:00")
    assert cli.status("2020-03-31")["state"] == "active"


def test_the_suspended_window_is_clamped_too(cli):
    # 2020-08-31 - 6mo = 2020-02-29: a post on 02-28 is suspended, on 02-29 only a zombie.
    cli.observe("2020-08-31T09:00+08:00", "--latest-post", "2020-02-28T23:59+08:00")
    assert cli.status("2020-08-31")["state"] == "suspended"
    cli.observe("2020-08-31T09:01+08:00", "--latest-post", "2020-02-29T00:00+08:00")
    assert cli.status("2020-08-31")["state"] == "zombie"


# --- evidence freshness ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "fresh"),
    [
        ("2020-03-01T00:00+08:00", True),  # D - 3, first minute: still fresh
        ("2020-03-01T23:59+08:00", True),
        ("2020-02-29T23:59:59+08:00", False),  # D - 4 (a leap day): stale
        ("2020-02-29T16:00Z", True),  # = 03-01 00:00 in Shanghai
        ("2020-02-29T15:59:59Z", False),  # = 02-29 23:59:59 in Shanghai
        ("2020-02-29T12:00-05:00", True),  # = 03-01 01:00 in Shanghai
    ],
)
def test_evidence_observed_on_d_minus_3_is_fresh_and_on_d_minus_4_stale(cli, at, fresh):
    cli.observe(at, "--latest-post", "2020-02-28T10:00+08:00")
    record = cli.status("2020-03-04")
    if fresh:
        assert record["state"] == "active", record
    else:
        assert record["state"] == "unknown", record
        assert record["reason"] == "no successful check since 2020-02-29"
        assert record["state_label"] == "采集失败"


def test_evidence_max_age_zero_means_only_the_as_of_day_counts(cli):
    cli.observe("2020-03-03T23:59+08:00", "--latest-post", "2020-03-01")
    assert cli.status("2020-03-04", "--evidence-max-age", "0d")["state"] == "unknown"
    assert cli.status("2020-03-03", "--evidence-max-age", "0d")["state"] == "active"
    cli.observe("2020-03-04T00:00+08:00", "--latest-post", "2020-03-01")
    assert cli.status("2020-03-04", "--evidence-max-age", "0d")["state"] == "active"


# --- property: the CLI's verdict is classify()'s -------------------------------------------

OFFSETS = [UTC, SH, timezone(timedelta(hours=-5)), timezone(timedelta(hours=13))]
DURATIONS = ["0d", "1d", "3d", "7d", "14d", "2w", "1mo", "2mo", "3mo", "6mo", "1y", "1mo15d"]
EXAMPLES = 60


@st.composite
def case(draw):
    as_of = draw(st.dates(min_value=date(2016, 1, 1), max_value=date(2025, 12, 31)))
    # Observed from 40 days before the end of D to 2 days after it (then it must be ignored).
    end = end_of_day(as_of, SH)
    observed = end - timedelta(seconds=draw(st.integers(-2 * 86400, 40 * 86400)))
    observed = observed.replace(microsecond=0).astimezone(draw(st.sampled_from(OFFSETS)))
    outcome = draw(st.sampled_from([Outcome.OK, Outcome.OK, Outcome.NO_CONTENT, Outcome.NOT_FOUND]))
    post = None
    if outcome is Outcome.OK:
        back = draw(st.integers(-86400, 800 * 86400))  # may even be after the observation
        post = (observed - timedelta(seconds=back)).astimezone(draw(st.sampled_from(OFFSETS)))
    status = draw(st.sampled_from(list(RosterStatus)))
    policy = {
        key: draw(st.sampled_from(DURATIONS))
        for key in ("zombie_after", "suspended_after", "warn_before", "evidence_max_age")
    }
    # The monitor refuses a suspension window shorter than the zombie window.
    probe = date(2021, 3, 31)
    zombie, suspended = (Duration.parse(policy[k]) for k in ("zombie_after", "suspended_after"))
    if suspended.before(probe) > zombie.before(probe):
        policy["zombie_after"], policy["suspended_after"] = (
            policy["suspended_after"],
            policy["zombie_after"],
        )
    return as_of, observed, outcome, post, status, policy


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case())
def test_the_cli_verdict_equals_classify_on_the_same_inputs(capsys, example):
    as_of, observed, outcome, post, status, policy = example
    with tempfile.TemporaryDirectory() as tmp:
        c = Cli(Path(tmp) / "m.db", capsys)
        (Path(tmp) / "r.csv").write_text(roster(status), encoding="utf-8")
        c.ok("import", str(Path(tmp) / "r.csv"))
        finding = {
            Outcome.OK: ("--latest-post", post.isoformat() if post else ""),
            Outcome.NO_CONTENT: ("--no-content",),
            Outcome.NOT_FOUND: ("--not-found",),
        }[outcome]
        c.observe(observed.isoformat(), *finding)
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in policy.items()]
        record = c.status(as_of.isoformat(), *flags)

    windows = Windows(**{k: Duration.parse(v) for k, v in policy.items()})
    facts = RosterFacts(Platform.WEIBO, status)
    seen = observed.astimezone(SH).date() <= as_of
    obs = Observation(
        account=1,
        observed_at=observed,
        source="manual",
        outcome=outcome,
        latest_post_at=post,
    )
    expected = classify(
        facts,
        obs if seen else None,
        windows,
        as_of,
        SH,
        last_checked_at=observed if seen else None,
    )
    assert record["state"] == expected.state.value, (example, record, expected)
    assert record["state_label"] == expected.label
    assert record["reason"] == expected.reason
    assert record["days_silent"] == expected.days_silent
    assert record["latest_post_date"] == (
        expected.latest_post_date.isoformat() if expected.latest_post_date else None
    )
