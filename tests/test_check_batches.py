"""Deferred checks (the daemon's): written in batches, a failure closes its batch at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from simulated_city import clean_monitor_env, weibo_accounts

from monitor.checks import fetch as checks
from monitor.checks.fetch import Checker
from monitor.cli import main
from monitor.settings import Settings
from monitor.simulator import Scenario, SimulatorServer, write_roster
from monitor.store import Store

NOW = datetime.now(UTC)


@pytest.fixture
def city(tmp_path, monkeypatch):
    clean_monitor_env(monkeypatch)
    accounts = weibo_accounts(4, first_id=5000, last_post=lambda i: NOW - timedelta(days=2))
    scenario = Scenario(accounts=accounts)
    server = SimulatorServer(scenario)
    url = server.start()
    roster = tmp_path / "roster.csv"
    write_roster(scenario, roster, url)
    db = str(tmp_path / "m.db")
    assert main(["--db", db, "import", str(roster)]) == 0
    settings = Settings(
        weibo={"base_url": url},
        network={"allow_private_addresses": True},
        http={"timeout_s": 2.0},
        limits={"weibo": {"max_concurrent": 2, "rate_per_s": 500.0}},
    )
    store = Store.open(db)
    try:
        yield server, store, settings
    finally:
        store.close()
        server.stop()


def _observations(store: Store) -> int:
    return store.conn.execute("SELECT COUNT(*) FROM observations").fetchone()[0]


def test_finished_checks_wait_for_their_batch_and_a_failure_writes_it_at_once(city):
    server, store, settings = city
    views = store.accounts_at(NOW)
    server.set_fault(views[2].account_id, "http_500", "weibo")

    async def go() -> list[list[int]]:
        got = []
        async with Checker(store, settings) as checker:
            for view in views[:3]:
                reports = await checker.check_deferred(view)
                got.append([r.account.id for r in reports])
                if view is views[0]:
                    assert _observations(store) == 0
            got.append([r.account.id for r in await checker.check_deferred(views[3])])
            got.append([r.account.id for r in checker.flush()])
            got.append([r.account.id for r in checker.flush()])
        return got

    first, second, failed, fourth, flushed, nothing = asyncio.run(go())
    ids = [v.id for v in views]
    assert first == [] and second == []
    assert failed == ids[:3]  # the failure closed the batch with the two before it
    assert fourth == [] and flushed == [ids[3]] and nothing == []
    assert _observations(store) == 4
    # Everything that follows a check landed with it: schedule rows and current verdicts.
    rows = {r.account: r for r in store.schedule_rows()}
    assert all(rows[i].last_checked_at is not None for i in ids)
    assert set(store.verdict_rows(ids)) == set(ids)


def test_a_batch_closes_at_its_size_or_its_age(city, monkeypatch):
    _, store, settings = city
    views = store.accounts_at(NOW)

    async def sizes() -> list[int]:
        async with Checker(store, settings) as checker:
            return [len(await checker.check_deferred(v)) for v in views]

    monkeypatch.setattr(checks, "RECORD_BATCH", 2)
    assert asyncio.run(sizes()) == [0, 2, 0, 2]
    monkeypatch.setattr(checks, "RECORD_BATCH", 50)
    monkeypatch.setattr(checks, "RECORD_BATCH_S", 0.0)
    assert asyncio.run(sizes()) == [1, 1, 1, 1]
    assert _observations(store) == 8


def test_check_details_are_stored_with_their_code_and_english_text(city, monkeypatch):
    """An adapter bug is recorded with a coded detail; a code alone gets its English text."""
    from adapters.base import CheckResult
    from monitor.models import Observation, Outcome

    _, store, settings = city
    views = store.accounts_at(NOW)

    class Broken:
        name = "weibo"

        async def check(self, target, ctx):
            raise ValueError("no such field: cards")

    class CodeOnly:
        name = "weibo"

        async def check(self, target, ctx):
            obs = Observation(
                account=target.id,
                observed_at=ctx.clock(),
                source="weibo",
                outcome=Outcome.PARSE_ERROR,
                detail_code="check.adapter_error",
                detail_params={"error_type": "KeyError", "error": "'mblog'"},
            )
            return CheckResult(obs, {})

    async def run_with(adapter) -> None:
        monkeypatch.setattr(checks, "get_adapter", lambda source: adapter)
        async with Checker(store, settings) as checker:
            await checker.check_many(views[:1])

    asyncio.run(run_with(Broken()))
    (broken,) = store.observations(views[0].id, limit=1)
    assert broken.detail == "adapter error: ValueError: no such field: cards"
    assert broken.detail_code == "check.adapter_error"
    assert broken.detail_params == {"error_type": "ValueError", "error": "no such field: cards"}
    asyncio.run(run_with(CodeOnly()))
    (coded,) = store.observations(views[0].id, limit=1)
    assert coded.detail == "adapter error: KeyError: 'mblog'"
    assert coded.detail_code == "check.adapter_error"
