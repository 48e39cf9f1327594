"""`monitor check --all` against a simulated city over real sockets: verdicts match the truth.

The truth is what each scenario account's posts imply under the classification
rules. Faulted accounts must stay unknown: a failure never produces a verdict.
"""

from __future__ import annotations

import json

import pytest
from simulated_city import point_monitor_at, truth

from monitor.cli import main
from monitor.dates import utcnow
from monitor.models import State
from monitor.simulator import SimulatorServer, generate_city, write_roster
from monitor.simulator.roster import roster_platform


@pytest.fixture
def city(tmp_path, monkeypatch):
    scenario = generate_city(500, seed=7)
    server = SimulatorServer(scenario, seed=7)
    url = server.start()
    try:
        roster = tmp_path / "city.csv"
        write_roster(scenario, roster, url)
        # The simulator shares this process (and its GIL) with the WeChat worker threads:
        # generous timeouts, so only the faulted accounts time out.
        point_monitor_at(monkeypatch, url, scenario, tmp_path / "m.db", timeout_s="15")
        yield scenario, server, roster
    finally:
        server.stop()


def _run(capsys, *args: str) -> list[dict]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_every_unfaulted_account_gets_the_verdict_its_posts_imply(city, capsys):
    scenario, _server, roster = city
    assert main(["import", str(roster)]) == 0
    capsys.readouterr()
    checks = _run(capsys, "check", "--all", "--json")
    assert len(checks) == len(scenario.accounts)
    now = utcnow()
    status = {(r["platform"], r["account_id"]): r for r in _run(capsys, "status", "--json")}
    by_outcome: dict[str, int] = {}
    wrong = []
    for account in scenario.accounts:
        record = status[(roster_platform(account), account.account_id)]
        by_outcome[record["last_outcome"]] = by_outcome.get(record["last_outcome"], 0) + 1
        if account.fault is not None:
            # A failed check never yields a verdict.
            assert record["state"] == "unknown", (account.name, account.fault, record)
            assert record["last_outcome"] not in ("ok", "no_content", "not_found", "restricted")
            continue
        if State(record["state"]) not in truth(account, now):
            wrong.append((account.platform, account.name, record["state"], record["reason"]))
    assert wrong == [], wrong
    faulted = sum(1 for a in scenario.accounts if a.fault)
    assert faulted > 0, "the generated city should include faulted accounts"
    assert by_outcome.get("ok", 0) > 400
    assert by_outcome.get("not_found", 0) >= 1 and by_outcome.get("no_content", 0) >= 1


def test_a_second_sweep_with_failures_never_turns_a_verdict_into_zombie(city, capsys):
    scenario, server, roster = city
    assert main(["import", str(roster)]) == 0
    capsys.readouterr()
    _run(capsys, "check", "--all", "--json")
    before = {r["id"]: r for r in _run(capsys, "status", "--json")}
    # Now every weibo answer is a login wall and every feed times out: nothing is evidence.
    for account in scenario.accounts:
        server.set_fault(
            account.account_id,
            "login_wall" if account.platform != "feed" else "http_500",
            account.platform,
        )
    _run(capsys, "check", "--all", "--json")
    after = {r["id"]: r for r in _run(capsys, "status", "--json")}
    for account_id, old in before.items():
        new = after[account_id]
        assert new["state"] == old["state"], (old["name"], old["state"], new["state"])
        assert new["last_outcome"] in ("blocked", "transient", "auth_error")
