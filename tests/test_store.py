"""The store on a real SQLite file: migrations, WAL, observations at a moment."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from monitor.models import Observation, Outcome, Platform, RosterStatus
from monitor.store import (
    MIGRATIONS,
    AccountChange,
    DatabaseVersionError,
    ImportRecord,
    SourceState,
    Store,
    StoreError,
)


def test_a_new_file_is_in_wal_mode_with_every_migration_applied(tmp_path):
    path = tmp_path / "m.db"
    with Store.open(path) as store:
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_an_old_version_file_is_migrated_forward_on_open_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    old = Store.open(path, migrate=False)
    old.migrate(upto=MIGRATIONS[0][0])
    assert old.applied_migrations() == [MIGRATIONS[0][0]]
    old.conn.executescript(
        """
        INSERT INTO units (id, name, created_at) VALUES (1, '石泉县统计局', '2020-01-01T00:00:00.000000+00:00');
        INSERT INTO accounts (id, identity, platform, account_id, roster_order, created_at)
            VALUES (1, 'weibo:name:石泉统计', 'weibo', '', 0, '2020-01-01T00:00:00.000000+00:00');
        INSERT INTO account_versions (account, valid_from, name, unit, region, status)
            VALUES (1, '0001-01-01T00:00:00.000000+00:00', '石泉统计', 1, '石泉县', 'operating');
        INSERT INTO observations (account, observed_at, source, outcome, evidence, latest_post_at, recorded_at)
            VALUES (1, '2020-03-04T01:00:00.000000+00:00', 'manual', 'ok', 1,
                    '2020-01-13T02:00:00.000000+00:00', '2020-03-04T01:00:00.000000+00:00');
        """
    )
    old.close()
    with Store.open(path) as store:
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
        states = store.states_at(datetime(2020, 3, 5, tzinfo=UTC))
        assert [s.account.name for s in states] == ["石泉统计"]
        assert states[0].account.feed_url == ""
        assert states[0].evidence is not None
        assert states[0].evidence.latest_post_at == datetime(2020, 1, 13, 2, tzinfo=UTC)
        assert "alerts" in store.db.table_names()


def test_a_file_from_a_newer_monitor_is_refused(tmp_path):
    path = tmp_path / "new.db"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES ('9999_future', 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseVersionError, match="newer monitor"):
        Store.open(path)


def test_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "nope" / "m.db")


def _one_account(store: Store) -> int:
    store.apply_import(
        ImportRecord(
            file="r.csv",
            form="long",
            imported_at=datetime(2020, 1, 1, tzinfo=UTC),
            effective_at=None,
        ),
        [
            AccountChange(
                identity="weibo:id:1",
                platform=Platform.WEIBO,
                account_id="1",
                unit="U",
                fields={"name": "A", "region": "R", "status": RosterStatus.OPERATING.value},
            )
        ],
    )
    return store.resolve_account("weibo:1")


def test_the_newest_evidence_at_or_before_a_moment_ignores_later_and_failed_checks(tmp_path):
    with Store.open(tmp_path / "m.db") as store:
        account = _one_account(store)

        def obs(day: int, outcome: Outcome, post_day: int | None = None) -> Observation:
            return Observation(
                account=account,
                observed_at=datetime(2020, 3, day, 1, tzinfo=UTC),
                source="t",
                outcome=outcome,
                latest_post_at=datetime(2020, 2, post_day, tzinfo=UTC) if post_day else None,
            )

        store.add_observations(
            [
                obs(1, Outcome.OK, 10),
                obs(2, Outcome.TRANSIENT),
                obs(3, Outcome.OK, 20),
                obs(4, Outcome.BLOCKED),
            ]
        )
        at2 = store.states_at(datetime(2020, 3, 2, 23, tzinfo=UTC))[0]
        assert at2.evidence is not None and at2.evidence.latest_post_at.day == 10
        assert at2.last_outcome is Outcome.TRANSIENT
        at9 = store.states_at(datetime(2020, 3, 9, tzinfo=UTC))[0]
        assert at9.evidence.latest_post_at.day == 20
        assert at9.last_outcome is Outcome.BLOCKED
        before = store.states_at(datetime(2020, 2, 28, tzinfo=UTC))[0]
        assert before.evidence is None and before.last_checked_at is None


def test_the_evidence_lookup_uses_the_index(tmp_path):
    with Store.open(tmp_path / "m.db") as store:
        plan = store.conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM observations WHERE account = 1 AND evidence = 1 "
            "AND observed_at <= 'x' ORDER BY observed_at DESC LIMIT 1"
        ).fetchall()
        assert any("observations_evidence" in row[-1] for row in plan)


def test_source_state_round_trips(tmp_path):
    with Store.open(tmp_path / "m.db") as store:
        account = _one_account(store)
        assert store.source_state(account) is None
        store.save_source_state(account, "feed", {"etag": '"abc"'})
        store.save_source_state(account, "feed", {"etag": '"def"'}, "k|https://x/feed|")
        assert store.source_state(account) == SourceState(
            "feed", "k|https://x/feed|", {"etag": '"def"'}
        )


def test_checks_are_counted_per_source_and_outcome_since_a_moment(tmp_path):
    with Store.open(tmp_path / "m.db") as store:
        account = _one_account(store)

        def obs(hour: int, source: str, outcome: Outcome) -> Observation:
            return Observation(
                account=account,
                observed_at=datetime(2020, 3, 1, hour, tzinfo=UTC),
                source=source,
                outcome=outcome,
            )

        store.add_observations(
            [
                obs(1, "weibo", Outcome.OK),
                obs(5, "weibo", Outcome.OK),
                obs(6, "weibo", Outcome.BLOCKED),
                obs(7, "feed", Outcome.OK),
            ]
        )
        counts = store.observation_counts_since(datetime(2020, 3, 1, 5, tzinfo=UTC))
        assert counts == {("weibo", "ok"): 1, ("weibo", "blocked"): 1, ("feed", "ok"): 1}


def test_due_checks_are_claimed_once_in_a_batch_and_given_back_by_account(tmp_path):
    with Store.open(tmp_path / "m.db") as store:
        first = _one_account(store)
        now = datetime(2026, 1, 1, tzinfo=UTC)
        later = datetime(2026, 1, 1, 0, 15, tzinfo=UTC)
        store.ensure_schedule(now)
        assert store.claim_checks([first, 999], "a", now, later) == {first}
        assert store.claim_checks([first], "b", now, later) == set()  # a holds it
        assert store.release_claims("b", [first]) == 0
        assert store.release_claims("a", []) == 0
        assert store.release_claims("a", [first]) == 1
        assert store.claim_checks([first], "b", now, later) == {first}
        # A claim that ran out is free again; a check not yet due is never claimed.
        assert store.claim_checks([first], "c", later, later) == {first}
        store.record_schedule(
            first, now=later, outcome=Outcome.OK, next_check_at=datetime(2026, 1, 2, tzinfo=UTC)
        )
        assert store.claim_checks([first], "d", later, later) == set()


def test_upgrading_discards_wechat_scans_gathered_from_reads_and_keeps_other_state(tmp_path):
    path = tmp_path / "old.db"
    old = Store.open(path, migrate=False)
    old.migrate(upto="0008_source_state_key")
    old.conn.executescript(
        """
        INSERT INTO accounts (id, identity, platform, account_id, roster_order, created_at)
            VALUES (1, 'wechat:id:wx1', 'wechat', 'wx1', 0, '2026-01-01T00:00:00.000000+00:00'),
                   (2, 'weibo:id:123', 'weibo', '123', 1, '2026-01-01T00:00:00.000000+00:00');
        INSERT INTO source_state (account, source, key, state, updated_at) VALUES
            (1, 'wechat_api', 'wx1||wx1',
             '{"dc_through":"2026-11-30","dc_empty_from":"2026-11-28","dc_floor":null,
               "dc_latest":"2026-11-27","dc_title":"read, not sent","dc_msgid":"1_1"}',
             '2026-12-01T00:00:00.000000+00:00'),
            (2, 'weibo', '123||', '{"container":"1076030000000123"}',
             '2026-12-01T00:00:00.000000+00:00');
        """
    )
    old.close()
    with Store.open(path) as store:
        assert "0009_wechat_scan_by_send_date" in store.applied_migrations()
        # The scan by read days is never trusted: the next check scans afresh.
        assert store.source_state(1) is None
        assert store.source_state(2) == SourceState(
            "weibo", "123||", {"container": "1076030000000123"}
        )


def test_a_file_that_had_verdict_findings_before_site_detail_codes_gets_them_and_keeps_its_fetches(
    tmp_path,
):
    # A file written by the release before 0019 (0020 applied, 0019 not): the new columns
    # are added on open, and a fetch stored then reads back as its free English text.
    from monitor.messages import detail_text
    from monitor.store.schema import _statements

    names = [name for name, _ in MIGRATIONS]
    assert names == sorted(names)
    assert names.index("0019_site_detail_codes") + 1 == names.index("0020_verdict_findings")
    path = tmp_path / "old.db"
    old = Store.open(path, migrate=False)
    old.migrate(upto="0018_sent_checks")
    for statement in _statements(dict(MIGRATIONS)["0020_verdict_findings"]):
        old.conn.execute(statement)
    stamp = "2026-12-04T04:00:00.000000+00:00"
    old.conn.execute(
        "INSERT INTO schema_migrations (name, applied_at) VALUES ('0020_verdict_findings', ?)",
        (stamp,),
    )
    old.conn.executescript(
        f"""
        INSERT INTO units (id, name, created_at) VALUES (1, '市统计局', '{stamp}');
        INSERT INTO sites (id, site_code, name, url, unit, region, roster_order, created_at,
                           updated_at)
            VALUES (1, '6100000001', '市统计局网站', 'http://h/', 1, '市直部门', 0,
                    '{stamp}', '{stamp}');
        INSERT INTO site_observations (site, target, url, observed_at, ok, reachable, status,
                                       detail)
            VALUES (1, 'homepage', 'http://h/', '{stamp}', 0, 0, 503, 'HTTP 503');
        """
    )
    old.close()
    at = datetime(2026, 12, 4, 5, tzinfo=UTC)
    with Store.open(path) as store:
        assert store.applied_migrations() == names
        (before,) = store.site_evidence([1], at, since=at.replace(day=1), probes_since=at).values()
        assert before.homepage is not None
        assert (before.homepage.detail, before.homepage.detail_code) == ("HTTP 503", None)
        assert detail_text(before.homepage, "zh") == "HTTP 503"  # free text, shown as written
        # A fetch stored now keeps its code and parameters.
        fetched = replace(
            before.homepage,
            id=None,
            observed_at=at,
            detail_code="site.http",
            detail_params={"status": 503},
        )
        store.add_site_observations([fetched])
        (after,) = store.site_evidence([1], at, since=at.replace(day=1), probes_since=at).values()
    assert after.homepage is not None and after.homepage.detail_params == {"status": 503}
    assert detail_text(after.homepage, "zh") == "网页返回 HTTP 503"
