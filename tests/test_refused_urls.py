"""A URL our own outbound guard refuses is a configuration problem of that account.

It is recorded as a `refused` check, shown in status, opens one `url_refused` alert
for operators, is listed in the report's roster problems, and never counts toward
a source's health or backoff: the other feeds go on being checked.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_daemon import START, Clock, feed, world_factory

from monitor.checks import alerts, notify
from monitor.checks.verdicts import verdicts_at
from monitor.cli import main
from monitor.models import Outcome
from monitor.records import status_record
from monitor.reports import build_report
from monitor.reports.model import RosterIssue
from monitor.simulator import write_roster

BAD = ["9001", "9002", "9003"]
GOOD = ["9101", "9102"]


@pytest.fixture
def make_world(tmp_path):
    yield from world_factory(tmp_path)


def test_refused_urls_are_the_rosters_problem_and_never_pause_the_source(make_world, tmp_path):
    clock = Clock()
    accounts = [feed(i, START - timedelta(days=1)) for i in BAD + GOOD]
    world = make_world(
        accounts,
        clock,
        # Only the simulator's own address is allowed; 127.0.0.2 is loopback too, and refused.
        network={"allow_private_addresses": False, "allowed_networks": ["127.0.0.1/32"]},
        schedule={"source_backoff_after": 2},
    )
    roster = tmp_path / "moved.csv"
    write_roster(world.scenario, roster, world.url)
    text = roster.read_text(encoding="utf-8")
    lines = [
        line.replace("127.0.0.1", "127.0.0.2") if any(f"/{i}." in line for i in BAD) else line
        for line in text.splitlines()
    ]
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["--db", world.db, "import", str(roster), "--effective", "2024-01-01"]) == 0

    summary = world.sweep()
    ids = world.ids()
    outcomes = {a: world.store.observations(ids[a], limit=1)[0].outcome for a in BAD + GOOD}
    assert {outcomes[a] for a in BAD} == {Outcome.REFUSED}
    assert {outcomes[a] for a in GOOD} == {Outcome.OK}
    # Three refusals in a row, with backoff after two: no pause, no source_down, the good
    # feeds were checked in the same sweep.
    assert summary.deferred == 0 and summary.checked == 5
    assert world.store.paused_sources(clock()) == {}
    assert world.store.open_alerts(kinds=[alerts.SOURCE_DOWN]) == []
    kinds = {(row.account, row.kind) for row in world.store.open_alerts()}
    assert {(ids[a], alerts.URL_REFUSED) for a in BAD} <= kinds
    assert not any(kind == alerts.CHECK_FAILING for _, kind in kinds)
    # The operators' message words the guard's reason in Chinese.
    [row] = [
        r for r in world.store.open_alerts(kinds=[alerts.URL_REFUSED]) if r.account == ids[BAD[0]]
    ]
    assert row.evidence["detail_code"] == "guard.refused_host"
    view = next(a for a in world.store.accounts_at(clock()) if a.id == ids[BAD[0]])
    body = notify.render(
        alerts.AlertEvent(row.id, row.kind, "opened", view, evidence=row.evidence)
    )[1]
    assert "原因：已拒绝 127.0.0.2：本机回环地址" in body and "refused" not in body

    day = clock().astimezone(world.settings.tz).date()
    items = {
        i.account.account_id: i
        for i in verdicts_at(world.store, day, world.settings.policy, world.settings.tz)
    }
    record = status_record(items[BAD[0]], world.settings.tz)
    assert record["last_outcome"] == "refused" and record["state"] == "unknown"
    assert [f["kind"] for f in record["roster_findings"]] == ["url_refused"]

    report = build_report(world.store, day, world.settings.policy, world.settings.tz)
    refused = [f for f in report.roster_findings if f.kind is RosterIssue.URL_REFUSED]
    assert len(refused) == len(BAD)

    # The roster fixed, the next check passes the guard and the alert closes.
    write_roster(world.scenario, roster, world.url)
    assert main(["--db", world.db, "import", str(roster), "--effective", "2024-01-02"]) == 0
    clock.advance(days=1)
    world.sweep()
    open_kinds = {row.kind for row in world.store.open_alerts()}
    assert alerts.URL_REFUSED not in open_kinds
    closed = [
        a
        for a in world.all_alerts()
        if a["kind"] == alerts.URL_REFUSED and a["close_reason"] == "resolved"
    ]
    assert len(closed) == len(BAD)
