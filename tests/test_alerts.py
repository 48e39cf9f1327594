"""Alert rules (verdict -> unit alert) and `monitor alerts` / `monitor alerts ack`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from test_daemon import START, Clock, run, weibo, world_factory

from monitor.checks import alerts
from monitor.cli import main
from monitor.dates import zone
from monitor.models import (
    AccountView,
    Evidence,
    Observation,
    Outcome,
    Platform,
    RosterStatus,
    State,
    Verdict,
)
from monitor.store import Store, StoreError

SH = zone("Asia/Shanghai")
NOW = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)


@pytest.fixture
def make_world(tmp_path):
    yield from world_factory(tmp_path)


OBS: dict[str, int] = {}


def verdict(state: State, *, problem: str | None = None) -> Verdict:
    obs = OBS.get("id")
    return Verdict(
        state=state,
        label=state.value,
        reason="test",
        as_of=date(2024, 3, 4),
        latest_post_date=date(2024, 2, 1),
        days_silent=32,
        evidence=Evidence(obs, NOW, "weibo", Outcome.OK, url="https://m.weibo.cn/detail/9"),
        roster_problem=problem,
    )


@pytest.fixture
def store_and_account(make_world):
    world = make_world([weibo("1001", START - timedelta(days=1))])
    view = world.store.accounts_at(world.clock())[0]
    OBS["id"] = world.store.add_observation(
        Observation(account=view.id, observed_at=NOW, source="weibo", outcome=Outcome.OK)
    )
    return world.store, view


def open_kinds(store: Store, view: AccountView) -> list[str]:
    return [a.kind for a in store.open_alerts(account=view.id)]


def test_an_escalation_closes_the_lesser_alert_so_one_unit_alert_stays_open(store_and_account):
    store, view = store_and_account
    for state in (State.WARNING, State.ZOMBIE, State.SUSPENDED):
        alerts.reconcile_unit_alerts(store, view, verdict(state), NOW, SH)
    assert open_kinds(store, view) == ["became_suspended"]
    events = alerts.reconcile_unit_alerts(store, view, verdict(State.ACTIVE), NOW, SH)
    assert [(e.kind, e.event, e.reason) for e in events] == [
        ("became_suspended", "closed", "recovered")
    ]
    assert open_kinds(store, view) == []


def test_an_unknown_verdict_neither_opens_nor_closes_unit_alerts(store_and_account):
    store, view = store_and_account
    alerts.reconcile_unit_alerts(store, view, verdict(State.ZOMBIE), NOW, SH)
    assert alerts.reconcile_unit_alerts(store, view, verdict(State.UNKNOWN), NOW, SH) == []
    assert open_kinds(store, view) == ["became_zombie"]


def test_the_same_verdict_again_opens_nothing_new(store_and_account):
    store, view = store_and_account
    first = alerts.reconcile_unit_alerts(store, view, verdict(State.ZOMBIE), NOW, SH)
    again = alerts.reconcile_unit_alerts(store, view, verdict(State.ZOMBIE), NOW, SH)
    assert len(first) == 1 and again == []


def test_not_found_while_the_roster_says_operating_opens_account_missing(store_and_account):
    store, view = store_and_account
    missing = verdict(State.CANCELLED, problem="account missing on the platform")
    (event,) = alerts.reconcile_unit_alerts(store, view, missing, NOW, SH)
    assert event.kind == "account_missing" and event.for_unit
    assert event.evidence["url"] == "https://m.weibo.cn/detail/9"
    assert event.evidence["observation"] == OBS["id"] and event.evidence["days_silent"] == 32
    cancelled = alerts.reconcile_unit_alerts(store, view, verdict(State.CANCELLED), NOW, SH)
    assert [(e.kind, e.reason) for e in cancelled] == [("account_missing", "cancelled")]


def test_the_database_refuses_a_second_open_alert_of_the_same_kind(store_and_account, tmp_path):
    store, view = store_and_account
    other = Store.open(store.path)  # a second writer, as a concurrent run would be
    try:
        a = store.open_alert(kind="became_zombie", now=NOW, account=view.id, unit=view.unit_id)
        b = other.open_alert(kind="became_zombie", now=NOW, account=view.id, unit=view.unit_id)
        assert a is not None and b is None
        s1 = store.open_alert(kind="source_down", now=NOW, source="weibo")
        s2 = other.open_alert(kind="source_down", now=NOW, source="weibo")
        assert s1 is not None and s2 is None
        assert other.open_alert(kind="source_down", now=NOW, source="feed") is not None
    finally:
        other.close()


# -- the CLI --------------------------------------------------------------------------------


@pytest.fixture
def alerted(make_world, capsys):
    clock = Clock(datetime.now(UTC))
    now = clock()
    world = make_world(
        [
            weibo("3001", now - timedelta(days=40), unit="市统计局"),
            weibo("3002", now - timedelta(days=20), unit="市水利局"),
            weibo("3003", now - timedelta(days=1), unit="市水利局"),
        ],
        clock,
    )

    async def once():
        async with world.daemon() as daemon:
            await daemon.run_once()

    run(once())
    capsys.readouterr()
    return world


def alerts_json(capsys, *args: str) -> list[dict]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_alerts_json_lists_open_alerts_with_the_contract_fields(alerted, capsys):
    items = alerts_json(capsys, "--db", alerted.db, "alerts", "--json")
    assert sorted(i["kind"] for i in items) == ["became_suspended", "became_zombie"]
    for item in items:
        for key in ("id", "kind", "account", "unit", "region", "opened_at", "closed_at"):
            assert key in item
        assert item["evidence_url"].startswith("https://m.weibo.cn/detail/")
        assert item["closed_at"] is None and item["region"] == "市直部门"
    ids = alerted.ids()
    assert {i["account"] for i in items} == {ids["3001"], ids["3002"]}


def test_alerts_filter_by_unit_and_region(alerted, capsys):
    mine = alerts_json(capsys, "--db", alerted.db, "alerts", "--unit", "市统计局", "--json")
    assert [i["kind"] for i in mine] == ["became_suspended"]
    assert alerts_json(capsys, "--db", alerted.db, "alerts", "--region", "汉阴县", "--json") == []


def test_ack_records_the_note_and_all_lists_closed_alerts_too(alerted, capsys):
    (item,) = alerts_json(capsys, "--db", alerted.db, "alerts", "--unit", "市水利局", "--json")
    assert main(["--db", alerted.db, "alerts", "ack", str(item["id"]), "--note", "已约谈"]) == 0
    assert "acknowledged" in capsys.readouterr().out
    (acked,) = alerts_json(capsys, "--db", alerted.db, "alerts", "--unit", "市水利局", "--json")
    assert acked["ack_note"] == "已约谈" and acked["acked_at"] is not None
    alerted.server.add_post("3002", alerted.clock() - timedelta(hours=1))
    alerted.clock.advance(days=1, hours=1)

    async def once():
        async with alerted.daemon() as daemon:
            await daemon.run_once()

    run(once())
    capsys.readouterr()
    assert alerts_json(capsys, "--db", alerted.db, "alerts", "--unit", "市水利局", "--json") == []
    everything = alerts_json(
        capsys, "--db", alerted.db, "alerts", "--unit", "市水利局", "--all", "--json"
    )
    assert [i["closed_at"] is not None for i in everything] == [True]


def test_ack_of_an_unknown_alert_fails_with_exit_1(alerted, capsys):
    assert main(["--db", alerted.db, "alerts", "ack", "999"]) == 1
    assert "no alert with id 999" in capsys.readouterr().err


def test_the_alerts_table_names_unit_account_and_evidence(alerted, capsys):
    assert main(["--db", alerted.db, "alerts"]) == 0
    out = capsys.readouterr().out
    assert "市统计局" in out and "became_suspended" in out and "2 alert(s)" in out


def test_store_errors_are_store_errors():
    assert issubclass(StoreError, Exception)
    assert Platform.WEIBO.label == "微博" and RosterStatus.OPERATING.value == "operating"
