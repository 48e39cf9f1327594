"""A post date no platform can truly give (before 2000, after tomorrow) is a failed check.

Whatever adapter read it, such an answer is malformed: it is recorded as a failed
check (parse_error, with the code `check.post_date_out_of_range`) and never becomes
evidence, so it cannot make an account look silent or active. Over the real simulator
for Weibo and a feed; the boundaries on the check library's own function.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.checks.fetch import Checker, implausible_post
from monitor.messages import render
from monitor.models import MessageCode, Observation, Outcome, Platform, State
from monitor.settings import SecretLookup, Settings
from monitor.simulator import SimAccount, SimulatorServer
from monitor.simulator.feeds import feed_path
from monitor.simulator.scenario import Scenario
from monitor.store import AccountChange, ImportRecord, Store

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 15, 10, 30, tzinfo=SH)


def clock() -> datetime:
    return NOW


def sim(platform: str, account_id: str, posts: list[datetime]) -> SimAccount:
    return SimAccount(
        platform=platform,
        account_id=account_id,
        name=f"{platform} {account_id}",
        unit="石泉县测试局",
        region="石泉县",
        posts=posts,
    )


ACCOUNTS = [
    sim("weibo", "1000000001", [datetime(1999, 12, 31, 9, tzinfo=SH)]),
    sim("feed", "old-feed", [datetime(1998, 5, 4, 9, tzinfo=SH)]),
    sim("weibo", "1000000002", [datetime(2000, 1, 1, 0, 0, tzinfo=SH)]),  # the first day kept
]


@pytest.fixture(scope="module")
def server(no_monitor_env: None) -> Iterator[SimulatorServer]:
    srv = SimulatorServer(Scenario(accounts=ACCOUNTS), port=0, clock=clock, hold_seconds=30)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_a_post_date_before_2000_is_a_failed_check_never_evidence(server, tmp_path):
    settings = Settings(
        weibo={"base_url": server.url},
        network={"allow_private_addresses": True},
        http={"timeout_s": 5},
        limits={"weibo": {"rate_per_s": 1000.0}, "feed": {"rate_per_s": 1000.0}},
    )
    with Store.open(tmp_path / "m.db") as store:
        changes = [
            AccountChange(
                identity=f"{a.platform}:id:{a.account_id}",
                platform=Platform(a.platform),
                account_id=a.account_id,
                unit=a.unit,
                roster_order=order,
                fields={
                    "name": a.name,
                    "region": a.region,
                    "status": "operating",
                    "feed_url": (
                        f"{server.url}{feed_path(a.account_id, a.format)}"
                        if a.platform == "feed"
                        else ""
                    ),
                },
            )
            for order, a in enumerate(ACCOUNTS)
        ]
        store.apply_import(ImportRecord("r.csv", "long", NOW - timedelta(days=1), None), changes)
        accounts = store.accounts_at(NOW)

        async def go():
            async with Checker(store, settings, SecretLookup({}), clock=clock) as checker:
                return await checker.check_many(accounts)

        reports = {r.account.account_id: r for r in asyncio.run(go())}
        for key in ("1000000001", "old-feed"):
            report = reports[key]
            assert report.observation is not None
            assert report.observation.outcome is Outcome.PARSE_ERROR, report.observation
            assert report.observation.detail_code == MessageCode.POST_DATE_OUT_OF_RANGE
            assert report.observation.latest_post_at is None
            assert report.verdict is not None and report.verdict.state is State.UNKNOWN
            stored = store.observations(report.account.id)
            assert [o.outcome for o in stored] == [Outcome.PARSE_ERROR]
            assert stored[0].detail_code == MessageCode.POST_DATE_OUT_OF_RANGE
        kept = reports["1000000002"]
        assert kept.observation is not None and kept.observation.outcome is Outcome.OK
        assert kept.verdict is not None and kept.verdict.state is State.SUSPENDED


@pytest.mark.parametrize(
    ("post", "implausible"),
    [
        (datetime(1999, 12, 31, 15, 59, tzinfo=UTC), True),  # 1999-12-31 23:59 in Beijing
        (datetime(1999, 12, 31, 16, 0, tzinfo=UTC), False),  # 2000-01-01 00:00 in Beijing
        (NOW + timedelta(days=1), False),  # tomorrow: clocks differ, a day is tolerated
        (datetime(2026, 3, 16, 23, 59, tzinfo=SH), False),
        (datetime(2026, 3, 17, 0, 0, tzinfo=SH), True),  # the day after tomorrow
        (datetime(2099, 1, 1, tzinfo=UTC), True),
    ],
)
def test_the_plausible_range_is_2000_to_tomorrow_in_local_dates(post, implausible):
    obs = Observation(1, NOW, "weibo", Outcome.OK, latest_post_at=post, post_url="https://x/1")
    out = implausible_post(obs, SH)
    if not implausible:
        assert out is None
        return
    assert out is not None
    assert out.outcome is Outcome.PARSE_ERROR and out.latest_post_at is None
    assert out.post_url is None
    assert out.detail == render(out.detail_code, out.detail_params, "en")
    assert "不可信" in render(out.detail_code, out.detail_params, "zh")
