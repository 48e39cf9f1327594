"""The daemon against an in-process simulator with an injected clock: weeks pass in seconds."""

from __future__ import annotations

import asyncio
import os
import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.checks import alerts
from monitor.checks.verdicts import verdicts_at
from monitor.cli import main
from monitor.daemon import Daemon, owner_alive
from monitor.settings import Settings
from monitor.simulator import Scenario, SimAccount, SimulatorServer, write_roster
from monitor.store import Store

START = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


class Clock:
    """A clock the test moves forward; shared by the monitor and the simulator."""

    def __init__(self, start: datetime = START):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class NullSender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send(self, url: str, title: str, body: str) -> None:
        self.sent.append((url, title, body))


def weibo(account_id: str, *posts: datetime, name: str = "", unit: str = "市统计局") -> SimAccount:
    return SimAccount(
        platform="weibo",
        account_id=account_id,
        name=name or f"账号{account_id}",
        unit=unit,
        region="市直部门",
        posts=list(posts),
    )


def feed(account_id: str, *posts: datetime, unit: str = "市文旅局") -> SimAccount:
    return SimAccount(
        platform="feed",
        account_id=account_id,
        name=f"订阅{account_id}",
        unit=unit,
        region="汉阴县",
        posts=list(posts),
        platform_label="douyin",
    )


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith("MONITOR_"):
            monkeypatch.delenv(key)


class World:
    """A simulator, a database with its roster imported, settings pointing at both."""

    def __init__(self, tmp_path, accounts: list[SimAccount], clock: Clock, **overrides):
        self.clock = clock
        self.scenario = Scenario(accounts=accounts)
        self.server = SimulatorServer(self.scenario, clock=clock)
        self.url = self.server.start()
        roster = tmp_path / "roster.csv"
        write_roster(self.scenario, roster, self.url)
        self.db = str(tmp_path / "m.db")
        assert main(["--db", self.db, "import", str(roster), "--effective", "2024-01-01"]) == 0
        limits = {"max_concurrent": 2, "rate_per_s": 200.0}
        config = {
            "weibo": {"base_url": self.url},
            "wechat": {"api_base_url": self.url},
            "network": {"allow_private_addresses": True},
            "http": {"timeout_s": 2.0},
            "limits": {"weibo": limits, "feed": limits, "wechat_api": limits},
            "policy": {"zombie_after": "14d", "suspended_after": "28d", "warn_before": "3d"},
            "schedule": {"jitter_s": 0},
            "reports": {"folder": str(tmp_path / "reports")},
        }
        for key, value in overrides.items():
            config.setdefault(key, {}).update(value)
        self.settings = Settings(**config)
        self.store = Store.open(self.db)
        self.sender = NullSender()

    def daemon(self) -> Daemon:
        return Daemon(
            self.store, self.settings, clock=self.clock, sender=self.sender, rng=random.Random(1)
        )

    def sweep(self):
        """One sweep by a fresh daemon; its summary."""

        async def go():
            async with self.daemon() as daemon:
                return await daemon.sweep()

        return run(go())

    def ids(self) -> dict[str, int]:
        return {v.account_id: v.id for v in self.store.accounts_at(self.clock())}

    def states(self) -> dict[int, str]:
        day = self.clock().astimezone(self.settings.tz).date()
        return {
            item.account.id: item.verdict.state.value
            for item in verdicts_at(self.store, day, self.settings.policy, self.settings.tz)
        }

    def all_alerts(self) -> list:
        return self.store.alert_listing(self.clock(), open_only=False)

    def close(self) -> None:
        self.store.close()
        self.server.stop()


def world_factory(tmp_path):
    """Yields make(accounts, clock=None, **settings) -> World; closes them all afterwards."""
    worlds: list[World] = []

    def make(accounts, clock=None, **overrides) -> World:
        world = World(tmp_path, accounts, clock or Clock(), **overrides)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()


@pytest.fixture
def make_world(tmp_path):
    yield from world_factory(tmp_path)


def run(coro):
    return asyncio.run(coro)


# -- timing rules -------------------------------------------------------------------------


def test_claims_of_a_dead_process_are_released_but_a_live_ones_are_kept():
    import socket

    host = socket.gethostname()
    me = f"{host}:{os.getpid()}:aaaa"
    assert owner_alive(me, me)
    assert not owner_alive(f"{host}:{os.getpid()}:bbbb", me)
    assert owner_alive(f"{host}:1:cccc", me)  # pid 1 is alive
    assert not owner_alive(f"{host}:999999999:dddd", me)
    assert owner_alive("elsewhere:12:eeee", me)


# -- sweeps over simulated weeks --------------------------------------------------------------


def test_accounts_going_silent_over_weeks_open_each_alert_exactly_once_and_a_post_recovers(
    make_world,
):
    clock = Clock()
    world = make_world(
        [
            weibo("1001", START - timedelta(days=1), START - timedelta(days=3)),
            weibo("1002", START - timedelta(hours=5)),
        ],
        clock,
    )
    quiet = world.ids()["1001"]
    seen_states = []

    async def weeks() -> None:
        async with world.daemon() as daemon:
            for day in range(36):
                if day == 33:
                    world.server.add_post("1001", clock() - timedelta(hours=2))
                    world.server.add_post("1002", clock() - timedelta(hours=2))
                await daemon.run_once()
                seen_states.append(world.states()[quiet])
                clock.advance(days=1)

    run(weeks())
    assert seen_states[0] == "active"
    assert {"warning", "zombie", "suspended"} <= set(seen_states)
    assert seen_states[-1] == "active"
    mine = [a for a in world.all_alerts() if a["account"] == quiet]
    kinds = sorted(a["kind"] for a in mine)
    assert kinds == ["became_suspended", "became_warning", "became_zombie"]
    reasons = {a["kind"]: a["close_reason"] for a in mine}
    assert reasons == {
        "became_warning": "now became_zombie",
        "became_zombie": "now became_suspended",
        "became_suspended": "recovered",
    }
    assert all(a["closed_at"] is not None for a in mine)
    zombie = next(a for a in mine if a["kind"] == "became_zombie")
    assert zombie["evidence"]["url"].startswith("https://m.weibo.cn/detail/")
    assert zombie["evidence"]["days_silent"] >= 15
    assert zombie["observation"] is not None
    # The other account was also silent for a month: same story, each alert once.
    other = [a for a in world.all_alerts() if a["account"] == world.ids()["1002"]]
    assert sorted(a["kind"] for a in other) == kinds


def test_the_schedule_survives_a_restart_and_a_new_account_is_checked_on_the_next_tick(
    make_world, tmp_path
):
    clock = Clock()
    world = make_world([weibo("2001", START - timedelta(days=1))], clock)

    first = world.sweep()
    assert (first.due, first.checked, first.ok) == (1, 1, 1)
    clock.advance(hours=1)
    again = world.sweep()  # a "restarted" daemon: nothing is due an hour later
    assert (again.due, again.checked) == (0, 0)
    # A roster import adds an account: it is due at the next tick.
    world.scenario.accounts.append(weibo("2002", START - timedelta(days=2)))
    world.server.stop()
    world.server = SimulatorServer(world.scenario, clock=clock, port=world.server.port)
    world.server.start()
    roster = tmp_path / "roster2.csv"
    write_roster(world.scenario, roster, world.url)
    assert main(["--db", world.db, "import", str(roster)]) == 0
    third = world.sweep()
    assert (third.due, third.checked) == (1, 1)
    clock.advance(hours=23)
    assert world.sweep().due == 1  # the first account, 24 h after its check
    rows = world.store.schedule_rows()
    assert all(r.claimed_by is None and r.failures == 0 for r in rows)


def test_a_418_storm_backs_the_source_off_and_changes_no_verdict(make_world):
    clock = Clock()
    accounts = [weibo(str(3000 + i), START - timedelta(days=i * 9)) for i in range(12)]
    world = make_world(accounts, clock)

    world.sweep()
    before = world.states()
    assert set(before.values()) >= {"active", "zombie"}

    clock.advance(hours=25)
    world.server.set_rate_limit(0.2)  # one request, then 418 for everything else
    storm = world.sweep()
    assert storm.failed["rate_limited"] >= 3
    assert storm.deferred > 0, "the source must stop before working through the queue"
    # Accounts claimed in a batch but never started are handed back, not left claimed.
    assert all(r.claimed_by is None for r in world.store.schedule_rows())
    assert storm.checked + storm.deferred == 12
    health = world.store.source_health("weibo")
    assert health.level == 1 and health.paused_until is not None
    assert world.states() == before

    world.server.reset_stats()
    clock.advance(seconds=30)  # still inside the pause
    resting = world.sweep()
    assert resting.checked == 0 and resting.deferred > 0
    assert world.server.stats["requests"] == 0
    assert world.server.stats["over_limit"] == 0
    assert world.states() == before

    world.server.set_rate_limit(None)
    clock.advance(minutes=10)  # past the pause and the 5-minute retry
    after = world.sweep()
    # A recheck reads only the timeline (the kept container): the storm's one allowed
    # request may have finished a check, which is not due again.
    assert storm.ok <= 1
    assert after.checked == 12 - storm.ok and after.ok == after.checked
    assert world.server.stats["over_limit"] == 0
    assert world.states() == before
    assert world.store.source_health("weibo").level == 0
    # No verdict moved, so no unit alert opened or closed because of the storm.
    assert all(a["closed_at"] is None for a in world.all_alerts())


def test_a_rate_limit_confined_to_one_account_backs_off_only_that_account(make_world):
    clock = Clock()
    accounts = [weibo(str(4000 + i), START - timedelta(days=1)) for i in range(5)]
    accounts[0].fault = "rate_limit"
    world = make_world(accounts, clock)

    async def sweeps():
        async with world.daemon() as daemon:
            results = [await daemon.sweep()]
            clock.advance(minutes=6)
            results.append(await daemon.sweep())
            return results

    first, second = run(sweeps())
    assert first.checked == 5 and first.failed["rate_limited"] == 1
    assert second.due == 1 and second.checked == 1  # only the limited account, retried
    health = world.store.source_health("weibo")
    assert health.paused_until is None and health.level == 0
    row = world.store.schedule_row(world.ids()["4000"])
    assert row.failures == 2


def test_check_failing_opens_once_after_three_failures_and_closes_on_success(make_world):
    clock = Clock()
    accounts = [feed(str(5000 + i), START - timedelta(days=1)) for i in range(8)]
    accounts[0].fault = "http_500"
    world = make_world(accounts, clock)
    broken = world.ids()["5000"]

    async def sweeps():
        async with world.daemon() as daemon:
            for wait in (0, 6, 31, 121):
                clock.advance(minutes=wait)
                await daemon.sweep()
            world.server.set_fault("5000", None)
            clock.advance(hours=25)
            await daemon.sweep()

    run(sweeps())
    failing = [a for a in world.all_alerts() if a["kind"] == alerts.CHECK_FAILING]
    assert len(failing) == 1
    assert failing[0]["account"] == broken and failing[0]["close_reason"] == "recovered"
    assert failing[0]["evidence"]["failures"] == 3
    assert not [a for a in world.all_alerts() if a["kind"] == alerts.SOURCE_DOWN]
    # Operator alerts go to the operators, never to the unit's routes.
    assert all(a["kind"] != "became_zombie" for a in world.all_alerts())


def test_a_source_failing_for_most_accounts_raises_one_source_down_instead_of_many(make_world):
    clock = Clock()
    accounts = [feed(str(6000 + i), START - timedelta(days=1)) for i in range(8)]
    world = make_world(accounts, clock)

    async def sweeps():
        async with world.daemon() as daemon:
            await daemon.sweep()
            for a in accounts:
                world.server.set_fault(a.account_id, "http_500")
            for wait in (25 * 60, 6, 31, 121, 24 * 60):
                clock.advance(minutes=wait)
                await daemon.sweep()
            daemon.reclassify()
            for a in accounts:
                world.server.set_fault(a.account_id, None)
            clock.advance(hours=25)
            await daemon.sweep()

    run(sweeps())
    kinds = [a["kind"] for a in world.all_alerts()]
    assert kinds.count(alerts.SOURCE_DOWN) == 1
    assert alerts.CHECK_FAILING not in kinds
    down = next(a for a in world.all_alerts() if a["kind"] == alerts.SOURCE_DOWN)
    assert down["source"] == "feed" and down["close_reason"] == "recovered"


def test_the_daily_reclassification_ages_verdicts_without_new_observations(make_world):
    clock = Clock()
    world = make_world([weibo("7001", START - timedelta(days=10))], clock)
    account = world.ids()["7001"]

    async def first():
        async with world.daemon() as daemon:
            await daemon.sweep()
            return daemon

    daemon = run(first())
    assert world.states()[account] == "active"
    clock.advance(days=2)  # no check ran; the verdict ages into warning anyway
    record = daemon.reclassify()
    assert record["opened"] == {"became_warning": 1}
    clock.advance(days=1)
    assert daemon.reclassify()["opened"] == {}  # still warning: nothing new
    clock.advance(days=2)  # evidence older than 3 days: unknown, which opens and closes nothing
    assert world.states()[account] == "unknown"
    unknown = daemon.reclassify()
    assert (unknown["opened"], unknown["closed"]) == ({}, 0)
    open_kinds = [a["kind"] for a in world.store.alert_listing(clock())]
    assert open_kinds == ["became_warning"]


def test_serve_ticks_with_apscheduler_and_stops_on_request(make_world):
    clock = Clock()
    world = make_world(
        [weibo("8001", START - timedelta(days=1))],
        clock,
        schedule={"tick_s": 0.1, "reclassify_at": "00:00"},
    )

    async def serve():
        async with world.daemon() as daemon:
            task = asyncio.create_task(daemon.serve())
            for _ in range(300):
                await asyncio.sleep(0.05)
                if world.store.heartbeat("daemon") and world.store.heartbeat("job:reclassify"):
                    break
            daemon.stop()
            await asyncio.wait_for(task, 5)

    run(serve())
    # Later ticks find nothing due: the one account was checked exactly once.
    assert world.store.schedule_rows()[0].last_checked_at is not None
    assert len(world.store.observations(world.ids()["8001"])) == 1
    assert world.store.heartbeat("job:reclassify") is not None


def test_monthly_report_job_writes_last_months_report(make_world, tmp_path):
    pytest.importorskip("monitor.reports", reason="monitor.reports (issue 5) not merged yet")
    clock = Clock()
    folder = tmp_path / "reports"
    world = make_world(
        [weibo("9001", START - timedelta(days=1))],
        clock,
        reports={"folder": str(folder), "formats": ["md"], "mkdir": True},
    )

    async def go():
        async with world.daemon() as daemon:
            await daemon.sweep()
            return daemon.monthly_report()

    paths = run(go())
    assert paths and all(p.exists() for p in paths)
    assert "2024-02" in paths[0].name
    assert world.store.heartbeat("job:monthly_report")[1]["month"] == "2024-02"


def test_a_daily_sweep_reads_what_its_checks_need_in_batches_not_per_check(make_world):
    clock = Clock()
    # Silent for 0..23 days with a 14-day zombie window: a mix of states and open alerts.
    accounts = [weibo(str(5000 + i), START - timedelta(days=i)) for i in range(24)]
    world = make_world(accounts, clock)

    world.sweep()
    before = world.states()
    clock.advance(hours=25)
    opened_before = len(world.all_alerts())
    statements: list[str] = []
    world.store.conn.set_trace_callback(statements.append)
    try:
        daily = world.sweep()
    finally:
        world.store.conn.set_trace_callback(None)
    assert daily.checked == 24 and daily.ok == 24
    # A day older: one account crossed into warning, one into zombie; their alerts follow.
    after = world.states()
    assert sum(before[a] != after[a] for a in after) == 2
    assert len(world.all_alerts()) == opened_before + 2
    one_account_reads = [
        s
        for s in statements
        if s.lstrip().startswith("SELECT")
        and any(
            table in s
            for table in (
                "FROM source_state WHERE account =",
                "FROM schedule WHERE account =",
                "FROM alerts WHERE closed_at IS NULL AND account =",
            )
        )
    ]
    assert one_account_reads == []
    # What is left per check: its observation and its schedule row (and its adapter
    # state when that changed); everything else, the stored verdicts included, is read
    # or written once per batch.
    per_check = [
        s
        for s in (" ".join(s.split()) for s in statements)
        if s.startswith(("INSERT INTO observations", "UPDATE schedule SET next_check_at ="))
    ]
    assert len(per_check) == 2 * daily.checked
    state_writes = [s for s in statements if "INTO source_state" in s]
    # The rest is per sweep and per batch (claims, reads ahead, verdicts with
    # sqlite-utils' look at the table, flips, alerts, heartbeats): about as many for 24
    # checks as it would be for 50.
    rest = len(statements) - len(per_check) - len(state_writes)
    assert rest <= 60, rest
