"""On-demand checks (`monitor check`, `POST /api/accounts/{id}/check`) are recorded as
the daemon records its own: the schedule moves on, unit alerts follow the verdict,
and a successful check closes the operators' check_failing alert.

Real parts: the CLI on a real SQLite file and the simulator over a loopback socket.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from simulated_city import point_monitor_at

from monitor.cli import main
from monitor.simulator import Scenario, SimAccount, SimulatorServer, write_roster
from monitor.store import Store

NOW = datetime.now(UTC)


def weibo(account_id: str, days_silent: int) -> SimAccount:
    return SimAccount(
        platform="weibo",
        account_id=account_id,
        name=f"账号{account_id}",
        unit="市统计局",
        region="市直部门",
        posts=[NOW - timedelta(days=days_silent, hours=1)],
    )


QUIET, FLAKY = "2000000001", "2000000002"


@pytest.fixture
def city(tmp_path, monkeypatch):
    healthy = [weibo(str(2000000010 + i), 2) for i in range(5)]
    scenario = Scenario(accounts=[weibo(QUIET, 40), weibo(FLAKY, 1), *healthy])
    server = SimulatorServer(scenario)
    url = server.start()
    try:
        db = tmp_path / "m.db"
        point_monitor_at(
            monkeypatch, url, scenario, db, timeout_s="5", ALERTS__CHECK_FAILING_AFTER="1"
        )
        roster = tmp_path / "r.csv"
        write_roster(scenario, roster, url)
        assert main(["import", str(roster)]) == 0
        yield server, db
    finally:
        server.stop()


def cli_json(capsys, *args: str) -> Any:
    capsys.readouterr()
    code = main([*args, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def ids(db) -> dict[str, int]:
    with Store.open(db) as store:
        return {v.account_id: v.id for v in store.accounts_at(NOW + timedelta(days=1))}


def open_alerts(capsys, account: int) -> list[str]:
    return [a["kind"] for a in cli_json(capsys, "alerts", "--open") if a["account"] == account]


def test_monitor_check_opens_and_closes_alerts_and_moves_the_schedule(city, capsys) -> None:
    server, db = city
    quiet = ids(db)[QUIET]
    [report] = cli_json(capsys, "check", f"weibo:{QUIET}")
    assert report["state"] == "zombie"
    # Opened by the on-demand check itself, not left for the daemon's next pass.
    assert open_alerts(capsys, quiet) == ["became_zombie"]
    with Store.open(db) as store:
        row = store.schedule_row(quiet)
        others = [r for r in store.schedule_rows() if r.account != quiet]
    assert row is not None and row.last_outcome == "ok" and row.failures == 0
    assert row.next_check_at > NOW + timedelta(hours=12)  # the interval, not "due now"
    assert others and all(r.last_checked_at is None for r in others)

    # A daemon pass afterwards neither re-checks it nor opens the alert again.
    assert main(["run", "--once"]) == 0
    with Store.open(db) as store:
        assert len(store.observations(quiet)) == 1
    assert open_alerts(capsys, quiet) == ["became_zombie"]

    # A new post, seen by an on-demand check, recovers the account at once.
    server.add_post(QUIET, datetime.now(UTC) - timedelta(minutes=5), "weibo")
    [report] = cli_json(capsys, "check", f"weibo:{QUIET}")
    assert report["state"] == "active"
    assert open_alerts(capsys, quiet) == []
    closed = [a for a in cli_json(capsys, "alerts", "--all") if a["account"] == quiet]
    assert [a["kind"] for a in closed] == ["became_zombie"] and closed[0]["closed_at"]


def test_a_successful_on_demand_check_closes_check_failing(city, capsys) -> None:
    server, db = city
    flaky = ids(db)[FLAKY]
    server.set_fault(FLAKY, "login_wall", "weibo")
    assert main(["run", "--once"]) == 0
    assert open_alerts(capsys, flaky) == ["check_failing"]
    with Store.open(db) as store:
        row = store.schedule_row(flaky)
    assert row is not None and row.failures == 1

    server.set_fault(FLAKY, None, "weibo")
    [report] = cli_json(capsys, "check", f"weibo:{FLAKY}")
    assert report["outcome"] == "ok"
    assert open_alerts(capsys, flaky) == []
    with Store.open(db) as store:
        row = store.schedule_row(flaky)
    assert row is not None and row.failures == 0 and row.last_outcome == "ok"


def test_the_api_check_records_alerts_too(city, capsys, monkeypatch) -> None:
    from monitor.api import create_app
    from monitor.settings import load_settings

    _server, db = city
    quiet = ids(db)[QUIET]
    monkeypatch.setenv("MONITOR_API__TOKEN", "t0ken-for-tests")
    with TestClient(create_app(load_settings(), db, warm=False)) as client:
        r = client.post(
            f"/api/accounts/{quiet}/check", headers={"Authorization": "Bearer t0ken-for-tests"}
        )
    assert r.status_code == 200, r.text
    assert r.json()["verdict"]["state"] == "zombie"
    assert open_alerts(capsys, quiet) == ["became_zombie"]
