"""The only module that speaks SQL: one SQLite file (WAL) behind typed functions.

Schema changes are named migrations, applied in order inside a transaction on
open and recorded in `schema_migrations`. Timestamps are stored as fixed-width
UTC ISO strings (see `monitor.dates.to_db`), so text order is time order.

Errors: StoreError
          +-- DatabaseVersionError  (the file is newer than this program)
          +-- AccountLookupError    (no account, or an ambiguous one, for a query)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.dates import BEGINNING, from_db, to_db, utcnow
from monitor.links import http_link
from monitor.models import (
    MAX_ID,
    AccountView,
    Observation,
    Outcome,
    Platform,
    RosterStatus,
    identity_text,
)


class StoreError(Exception):
    """A database problem a user can act on."""


class DatabaseVersionError(StoreError):
    """The database was written by a newer version of the monitor."""


class AccountLookupError(StoreError):
    """An account query that matches nothing, or more than one account."""


# Named, ordered, append-only. Never edit a migration that has shipped: add one.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_roster_and_observations",
        """
        CREATE TABLE imports (
            id INTEGER PRIMARY KEY,
            file TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            effective_at TEXT NOT NULL,
            form TEXT NOT NULL DEFAULT '',
            summary TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE units (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        );
        CREATE TABLE accounts (
            id INTEGER PRIMARY KEY,
            identity TEXT NOT NULL UNIQUE,
            platform TEXT NOT NULL,
            account_id TEXT NOT NULL DEFAULT '',
            roster_order INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE account_versions (
            id INTEGER PRIMARY KEY,
            account INTEGER NOT NULL REFERENCES accounts(id),
            valid_from TEXT NOT NULL,
            import_id INTEGER REFERENCES imports(id),
            name TEXT NOT NULL,
            unit INTEGER NOT NULL REFERENCES units(id),
            region TEXT NOT NULL,
            status TEXT NOT NULL,
            supervisor TEXT NOT NULL DEFAULT '',
            contact TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            retired INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX account_versions_in_force ON account_versions(account, valid_from);
        CREATE TABLE observations (
            id INTEGER PRIMARY KEY,
            account INTEGER NOT NULL REFERENCES accounts(id),
            observed_at TEXT NOT NULL,
            source TEXT NOT NULL,
            outcome TEXT NOT NULL,
            evidence INTEGER NOT NULL,
            latest_post_at TEXT,
            post_id TEXT,
            post_url TEXT,
            post_title TEXT,
            detail TEXT,
            recorded_at TEXT NOT NULL
        );
        -- "latest observation of each account at or before a moment"
        CREATE INDEX observations_latest ON observations(account, observed_at);
        CREATE INDEX observations_evidence ON observations(account, evidence, observed_at);
        """,
    ),
    (
        "0002_source_settings",
        """
        ALTER TABLE account_versions ADD COLUMN source TEXT NOT NULL DEFAULT '';
        ALTER TABLE account_versions ADD COLUMN feed_url TEXT NOT NULL DEFAULT '';
        ALTER TABLE account_versions ADD COLUMN appid TEXT NOT NULL DEFAULT '';
        ALTER TABLE account_versions ADD COLUMN secret_env TEXT NOT NULL DEFAULT '';
        ALTER TABLE observations ADD COLUMN silent_since TEXT;
        ALTER TABLE observations ADD COLUMN profile TEXT;
        ALTER TABLE observations ADD COLUMN retry_after REAL;
        CREATE TABLE source_state (
            account INTEGER PRIMARY KEY REFERENCES accounts(id),
            source TEXT NOT NULL,
            state TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """,
    ),
    (
        "0003_alerts",
        """
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            account INTEGER REFERENCES accounts(id),
            unit INTEGER REFERENCES units(id),
            kind TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            closed_at TEXT,
            observation INTEGER REFERENCES observations(id),
            evidence TEXT NOT NULL DEFAULT '{}',
            acked_at TEXT,
            ack_note TEXT
        );
        -- at most one open alert per (account, kind), whoever writes it
        CREATE UNIQUE INDEX alerts_one_open
            ON alerts(account, kind) WHERE closed_at IS NULL;
        CREATE INDEX alerts_unit ON alerts(unit, closed_at);
        """,
    ),
    (
        "0004_schedule",
        """
        -- When each account is next checked (the daemon's schedule lives here, not in
        -- the process), who holds it while a check is in flight, and its failure streak.
        CREATE TABLE schedule (
            account INTEGER PRIMARY KEY REFERENCES accounts(id),
            next_check_at TEXT NOT NULL,
            claimed_by TEXT,
            claimed_until TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            first_checked_at TEXT,
            last_checked_at TEXT,
            last_success_at TEXT,
            last_outcome TEXT
        );
        CREATE INDEX schedule_due ON schedule(next_check_at);
        """,
    ),
    (
        "0005_outbox",
        """
        ALTER TABLE alerts ADD COLUMN source TEXT;
        ALTER TABLE alerts ADD COLUMN close_reason TEXT;
        -- source-wide alerts have no account: one open per (kind, source)
        CREATE UNIQUE INDEX alerts_one_open_source
            ON alerts(kind, source) WHERE closed_at IS NULL AND account IS NULL;
        -- One row per message and channel, written before sending. `channel` is a key
        -- resolved from the settings at send time ("operators#0"), never a URL.
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            event TEXT NOT NULL,
            alert INTEGER REFERENCES alerts(id),
            unit INTEGER REFERENCES units(id),
            channel TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            claimed_until TEXT,
            last_error TEXT,
            delivered_at TEXT,
            failed_at TEXT,
            UNIQUE (event, channel)
        );
        CREATE INDEX deliveries_pending ON deliveries(next_attempt_at)
            WHERE delivered_at IS NULL AND failed_at IS NULL;
        CREATE INDEX deliveries_alert ON deliveries(alert);
        """,
    ),
    (
        "0006_source_health",
        """
        -- Per source: the accounts of the current run of rate-limited/blocked answers,
        -- the backoff level and the pause it imposes.
        CREATE TABLE source_health (
            source TEXT PRIMARY KEY,
            streak TEXT NOT NULL DEFAULT '[]',
            level INTEGER NOT NULL DEFAULT 0,
            paused_until TEXT,
            last_outcome TEXT,
            updated_at TEXT NOT NULL
        );
        -- Liveness of the daemon and the last run of each daily job.
        CREATE TABLE heartbeat (
            name TEXT PRIMARY KEY,
            at TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        """,
    ),
    (
        "0007_observations_by_time",
        """
        -- checks per source and outcome over the last day (/healthz, /metrics)
        CREATE INDEX observations_time ON observations(observed_at);
        """,
    ),
    (
        "0008_source_state_key",
        """
        -- what the state was gathered from (account id, feed URL, AppID): a state
        -- kept for one feed URL or AppID must not be used for another
        ALTER TABLE source_state ADD COLUMN key TEXT NOT NULL DEFAULT '';
        """,
    ),
    (
        "0009_wechat_scan_by_send_date",
        """
        -- WeChat scans kept so far came from datacube/getarticlesummary, which lists
        -- the articles READ on a day, not those sent: a read passed for a post. Such a
        -- scan is never trusted; the next check of each account scans afresh by send
        -- date (getarticletotaldetail / getarticletotal).
        DELETE FROM source_state WHERE source = 'wechat_api';
        """,
    ),
    (
        "0010_current_verdicts",
        """
        -- Each account's current verdict (with the configured policy), kept in step by
        -- every recorded check, every roster import and the daily reclassification.
        -- `valid_until`: the first local date on which the verdict changes with no new
        -- write (evidence ages, a window is crossed, a roster version takes effect);
        -- a row is current for dates in [as_of, valid_until). Roster fields are copied
        -- here so lists filter and count through indexes.
        CREATE TABLE verdicts (
            account INTEGER PRIMARY KEY REFERENCES accounts(id),
            state TEXT NOT NULL,
            since TEXT NOT NULL,
            as_of TEXT NOT NULL,
            valid_until TEXT,
            policy TEXT NOT NULL,
            evidence INTEGER REFERENCES observations(id),
            reason TEXT NOT NULL,
            latest_post_date TEXT,
            roster_problem TEXT,
            platform TEXT NOT NULL,
            unit INTEGER NOT NULL REFERENCES units(id),
            region TEXT NOT NULL,
            name TEXT NOT NULL,
            roster_order INTEGER NOT NULL,
            retired INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX verdicts_order ON verdicts(retired, roster_order, account);
        CREATE INDEX verdicts_state ON verdicts(state, roster_order, account);
        CREATE INDEX verdicts_region ON verdicts(region, state, roster_order);
        CREATE INDEX verdicts_unit ON verdicts(unit, state, roster_order);
        CREATE INDEX verdicts_platform ON verdicts(platform, state, roster_order);
        CREATE INDEX verdicts_valid ON verdicts(valid_until);
        -- Every change of an account's current state, with the evidence it rests on.
        CREATE TABLE flips (
            id INTEGER PRIMARY KEY,
            account INTEGER NOT NULL REFERENCES accounts(id),
            at TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            evidence INTEGER REFERENCES observations(id),
            reason TEXT NOT NULL
        );
        CREATE INDEX flips_account ON flips(account, at);
        """,
    ),
    (
        "0011_observation_detail_code",
        """
        -- the detail as a message code and its parameters (JSON), worded per reader;
        -- NULL where the source wrote free text only
        ALTER TABLE observations ADD COLUMN detail_code TEXT;
        ALTER TABLE observations ADD COLUMN detail_params TEXT;
        """,
    ),
    (
        "0012_identity_text",
        """
        -- identities compare names and ids as `identity_text` does (NFKC, no zero-width
        -- characters); two accounts that now collide keep their old identities (OR IGNORE)
        UPDATE OR IGNORE accounts
            SET identity = platform || ':id:' || identity_text(substr(identity, length(platform) + 5))
            WHERE substr(identity, 1, length(platform) + 4) = platform || ':id:';
        UPDATE OR IGNORE accounts
            SET identity = platform || ':name:' || identity_text(substr(identity, length(platform) + 7))
            WHERE substr(identity, 1, length(platform) + 6) = platform || ':name:';
        """,
    ),
    (
        "0013_http_links_only",
        """
        -- only http(s) links are kept as evidence (monitor.links.http_link)
        UPDATE observations SET post_url = http_link(post_url) WHERE post_url IS NOT NULL;
        UPDATE alerts SET evidence = json_set(evidence, '$.url', http_link(json_extract(evidence, '$.url')))
            WHERE json_extract(evidence, '$.url') IS NOT NULL;
        """,
    ),
]

VERSIONED_FIELDS = (
    "name",
    "region",
    "status",
    "supervisor",
    "contact",
    "note",
    "source",
    "feed_url",
    "appid",
    "secret_env",
)


@dataclass(slots=True)
class StoredAccount:
    """An account with its newest roster version (what a new import compares against)."""

    id: int
    identity: str
    platform: Platform
    account_id: str
    roster_order: int
    unit: str
    retired: bool
    fields: dict[str, str]


@dataclass(slots=True)
class AccountChange:
    """One account an import adds or changes; `account` is None for a new one."""

    identity: str
    platform: Platform
    account_id: str
    unit: str
    fields: dict[str, str]
    roster_order: int = 0
    account: int | None = None
    retired: bool = False
    new_identity: str | None = None


@dataclass(slots=True)
class ImportRecord:
    file: str
    form: str
    imported_at: datetime
    effective_at: datetime | None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class AccountState:
    """An account as it stood at a moment: roster fields, newest evidence, newest check."""

    account: AccountView
    evidence: Observation | None
    last_checked_at: datetime | None
    last_outcome: Outcome | None


@dataclass(frozen=True, slots=True)
class SourceState:
    """An adapter's saved state for one account: the source, what it was gathered from."""

    source: str
    key: str  # "" for a state saved before keys were kept
    state: dict[str, Any]


_OBS_COLUMNS = (
    "id, account, observed_at, source, outcome, latest_post_at, post_id, post_url, "
    "post_title, detail, silent_since, profile, retry_after, detail_code, detail_params"
)
_OBS_COUNT = _OBS_COLUMNS.count(",") + 1


class Store:
    """A monitor database file. Open with `Store.open(path)`; use as a context manager."""

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.conn = conn
        self.path = path
        self.db = sqlite_utils.Database(conn)

    # -- lifecycle -----------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, migrate: bool = True) -> Store:
        """Open (creating if needed) the database, in WAL mode, with migrations applied."""
        path = str(path)
        parent = Path(path).parent
        if path != ":memory:" and not parent.exists():
            raise StoreError(f"database folder does not exist: {parent}")
        try:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.create_function("identity_text", 1, identity_text, deterministic=True)
            conn.create_function("http_link", 1, http_link, deterministic=True)
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA foreign_keys = ON")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: not a usable SQLite database ({exc})") from exc
        if path != ":memory:" and str(mode).lower() != "wal":
            raise StoreError(f"{path}: could not switch to WAL mode (got {mode})")
        store = cls(conn, path)
        if migrate:
            store.migrate()
        return store

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE): all of it lands, or none."""
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # -- migrations ----------------------------------------------------------

    def applied_migrations(self) -> list[str]:
        if "schema_migrations" not in self.db.table_names():
            return []
        return [r[0] for r in self.conn.execute("SELECT name FROM schema_migrations ORDER BY name")]

    def migrate(self, *, upto: str | None = None) -> list[str]:
        """Apply every pending migration (or those up to `upto`); returns their names."""
        known = [name for name, _ in MIGRATIONS]
        with self.transaction():
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            done = set(self.applied_migrations())
            unknown = sorted(done - set(known))
            if unknown:
                raise DatabaseVersionError(
                    f"{self.path} was written by a newer monitor (migrations {', '.join(unknown)}); "
                    "upgrade the monitor before using this file"
                )
            applied = []
            for name, sql in MIGRATIONS:
                if name in done:
                    continue
                for statement in _statements(sql):
                    self.conn.execute(statement)
                self.conn.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                    (name, to_db(utcnow())),
                )
                applied.append(name)
                if name == upto:
                    break
        return applied

    # -- roster --------------------------------------------------------------

    def roster(self) -> dict[str, StoredAccount]:
        """Every account with its newest version, keyed by identity."""
        rows = self.conn.execute(
            f"""
            SELECT a.id, a.identity, a.platform, a.account_id, a.roster_order, u.name AS unit_name,
                   v.retired, {", ".join("v." + f for f in VERSIONED_FIELDS)}
            FROM accounts a
            JOIN account_versions v ON v.id = (
                SELECT vv.id FROM account_versions vv WHERE vv.account = a.id
                ORDER BY vv.valid_from DESC, vv.id DESC LIMIT 1)
            JOIN units u ON u.id = v.unit
            """
        )
        out: dict[str, StoredAccount] = {}
        for r in rows:
            out[r[1]] = StoredAccount(
                id=r[0],
                identity=r[1],
                platform=Platform(r[2]),
                account_id=r[3],
                roster_order=r[4],
                unit=r[5],
                retired=bool(r[6]),
                fields=dict(zip(VERSIONED_FIELDS, r[7:], strict=True)),
            )
        return out

    def max_roster_order(self) -> int:
        row = self.conn.execute("SELECT MAX(roster_order) FROM accounts").fetchone()
        return -1 if row[0] is None else int(row[0])

    def apply_import(self, record: ImportRecord, changes: Sequence[AccountChange]) -> int:
        """Write one import's new accounts and new versions in one transaction; its id."""
        now = to_db(record.imported_at)
        valid_from = to_db(record.effective_at) if record.effective_at else now
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO imports (file, imported_at, effective_at, form, summary) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    record.file,
                    now,
                    valid_from,
                    record.form,
                    json.dumps(record.summary, ensure_ascii=False),
                ),
            )
            import_id = int(cur.lastrowid or 0)
            unit_ids = self._unit_ids(dict.fromkeys(c.unit for c in changes), now)
            for change in changes:
                if change.account is None:
                    cur = self.conn.execute(
                        "INSERT INTO accounts (identity, platform, account_id, roster_order, "
                        "created_at) VALUES (?, ?, ?, ?, ?)",
                        (
                            change.identity,
                            change.platform.value,
                            change.account_id,
                            change.roster_order,
                            now,
                        ),
                    )
                    account = int(cur.lastrowid or 0)
                    version_from = BEGINNING  # a first version applies from the beginning of time
                else:
                    account = change.account
                    version_from = valid_from
                    if change.new_identity:
                        self.conn.execute(
                            "UPDATE accounts SET identity = ?, account_id = ? WHERE id = ?",
                            (change.new_identity, change.account_id, account),
                        )
                self.conn.execute(
                    f"INSERT INTO account_versions (account, valid_from, import_id, unit, retired, "
                    f"{', '.join(VERSIONED_FIELDS)}) VALUES (?, ?, ?, ?, ?, "
                    f"{', '.join('?' for _ in VERSIONED_FIELDS)})",
                    (
                        account,
                        version_from,
                        import_id,
                        unit_ids[change.unit],
                        int(change.retired),
                        *(change.fields.get(f, "") for f in VERSIONED_FIELDS),
                    ),
                )
        return import_id

    def _unit_ids(self, names: Iterable[str], now: str) -> dict[str, int]:
        out = {}
        for name in names:
            self.conn.execute(
                "INSERT INTO units (name, created_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
                (name, now),
            )
            out[name] = self.conn.execute(
                "SELECT id FROM units WHERE name = ?", (name,)
            ).fetchone()[0]
        return out

    def units(self, moment: datetime) -> list[dict[str, Any]]:
        """Units with their regions and account counts, by the roster in force at `moment`."""
        views = self.accounts_at(moment)
        by_unit: dict[int, dict[str, Any]] = {}
        for v in views:
            unit = by_unit.setdefault(
                v.unit_id,
                {
                    "id": v.unit_id,
                    "name": v.unit,
                    "regions": [],
                    "accounts": 0,
                    "order": v.roster_order,
                },
            )
            unit["accounts"] += 1
            if v.region not in unit["regions"]:
                unit["regions"].append(v.region)
        return sorted(by_unit.values(), key=lambda u: u["order"])

    def unit_id(self, name: str) -> int | None:
        """The id of the unit with this name, or None."""
        row = self.conn.execute("SELECT id FROM units WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else None

    def unit_by_id(self, unit_id: int) -> str | None:
        row = self.conn.execute("SELECT name FROM units WHERE id = ?", (unit_id,)).fetchone()
        return row[0] if row else None

    # -- accounts at a moment --------------------------------------------------

    def accounts_at(
        self,
        moment: datetime,
        *,
        ids: Sequence[int] | None = None,
        include_retired: bool = False,
    ) -> list[AccountView]:
        """Accounts with the roster version in force at `moment`, in roster order."""
        return [s.account for s in self._states(moment, ids, include_retired, observations=False)]

    def states_at(
        self,
        moment: datetime,
        *,
        ids: Sequence[int] | None = None,
        include_retired: bool = False,
    ) -> list[AccountState]:
        """Accounts as they stood at `moment`: roster version, newest evidence, newest check."""
        return self._states(moment, ids, include_retired, observations=True)

    def _states(
        self,
        moment: datetime,
        ids: Sequence[int] | None,
        include_retired: bool,
        *,
        observations: bool,
    ) -> list[AccountState]:
        t = to_db(moment)
        obs_cols = ", ".join(f"e.{c.strip()}" for c in _OBS_COLUMNS.split(","))
        select_obs = f", {obs_cols}, c.observed_at, c.outcome" if observations else ""
        join_obs = (
            """
            LEFT JOIN observations c ON c.id = (
                SELECT o.id FROM observations o
                WHERE o.account = a.id AND o.observed_at <= :t
                ORDER BY o.observed_at DESC, o.id DESC LIMIT 1)
            -- Usually the newest check is itself evidence: only look further back when not.
            LEFT JOIN observations e ON e.id = CASE WHEN c.evidence = 1 THEN c.id ELSE (
                SELECT o.id FROM observations o
                WHERE o.account = a.id AND o.evidence = 1 AND o.observed_at <= :t
                ORDER BY o.observed_at DESC, o.id DESC LIMIT 1) END
            """
            if observations
            else ""
        )
        where = [] if include_retired else ["v.retired = 0"]
        params: dict[str, Any] = {"t": t}
        if ids is not None:
            if not ids:
                return []
            if len(ids) == 1:
                # One bound id keeps the SQL text fixed, so the compiled statement is reused
                # (the checker asks for one account's verdict after every check).
                where.append("a.id = :id")
                params["id"] = int(ids[0])
            else:
                where.append(f"a.id IN ({_id_list(ids)})")
        sql = f"""
            SELECT a.id, a.platform, a.account_id, a.roster_order, u.id, u.name, v.retired,
                   {", ".join("v." + f for f in VERSIONED_FIELDS)} {select_obs}
            FROM accounts a
            JOIN account_versions v ON v.id = (
                SELECT vv.id FROM account_versions vv
                WHERE vv.account = a.id AND vv.valid_from <= :t
                ORDER BY vv.valid_from DESC, vv.id DESC LIMIT 1)
            JOIN units u ON u.id = v.unit
            {join_obs}
            {"WHERE " + " AND ".join(where) if where else ""}
            ORDER BY a.roster_order, a.id
        """
        out = []
        nf = len(VERSIONED_FIELDS)
        # Positional reads and cached enum lookups: this loop runs once per account
        # for every report and status listing (see bench/bench_report.py).
        platforms, statuses, outcomes = _PLATFORMS, _STATUSES, _OUTCOMES
        for r in self.conn.execute(sql, params):
            name, region, status, supervisor, contact, note, source, feed_url, appid, secret = r[
                7 : 7 + nf
            ]
            view = AccountView(
                r[0],
                platforms[r[1]],
                r[2],
                name,
                r[5],
                r[4],
                region,
                statuses[status],
                r[3],
                supervisor,
                contact,
                note,
                source,
                feed_url,
                appid,
                secret,
                bool(r[6]),
            )
            if not observations:
                out.append(AccountState(view, None, None, None))
                continue
            rest = r[7 + nf :]
            evidence = _observation(rest[:_OBS_COUNT]) if rest[0] is not None else None
            last_at = from_db(rest[_OBS_COUNT])
            last_outcome = outcomes[rest[_OBS_COUNT + 1]] if rest[_OBS_COUNT + 1] else None
            out.append(AccountState(view, evidence, last_at, last_outcome))
        return out

    def find_accounts(self, query: str) -> list[tuple[int, str, str, str]]:
        """Accounts matching a query as (id, platform, account_id, name), best kind of match only.

        Tried in order: the stable id; `platform:account_id`; `platform:name`; a name.
        """
        q = query.strip()
        key = identity_text(q)
        current = """
            SELECT a.id, a.platform, a.account_id, v.name FROM accounts a
            JOIN account_versions v ON v.id = (
                SELECT vv.id FROM account_versions vv WHERE vv.account = a.id
                ORDER BY vv.valid_from DESC, vv.id DESC LIMIT 1)
        """
        # Only ASCII digits within SQLite's range can be an id ("²".isdigit() is true too).
        if key.isascii() and key.isdigit() and int(key) <= MAX_ID:
            rows = self.conn.execute(current + " WHERE a.id = ?", (int(key),)).fetchall()
            if rows:
                return rows
        platform, sep, rest = q.partition(":")
        if sep and platform.strip().lower() in {p.value for p in Platform}:
            p = platform.strip().lower()
            rest = rest.strip()
            rows = self.conn.execute(
                current + " WHERE a.platform = ? AND a.account_id = ? AND a.account_id != ''",
                (p, rest),
            ).fetchall()
            if rows:
                return rows
            rows = self.conn.execute(
                current + " WHERE a.platform = ? AND v.name = ?", (p, rest)
            ).fetchall()
            if rows:
                return rows
            # The same account spelled another way (width, invisible characters).
            rest_key = identity_text(rest)
            rows = self.conn.execute(
                current + " WHERE a.identity IN (?, ?)",
                (f"{p}:id:{rest_key}", f"{p}:name:{rest_key}"),
            ).fetchall()
            if rows:
                return rows
        rows = self.conn.execute(current + " WHERE v.name = ? ORDER BY a.id", (q,)).fetchall()
        if rows or not key:
            return rows
        names = [f"{p.value}:name:{key}" for p in Platform]
        return self.conn.execute(
            current + f" WHERE a.identity IN ({', '.join('?' * len(names))}) ORDER BY a.id", names
        ).fetchall()

    def resolve_account(self, query: str) -> int:
        """The stable id of the one account a query names; AccountLookupError otherwise."""
        rows = self.find_accounts(query)
        if not rows:
            raise AccountLookupError(f"no account matches {query!r}")
        if len(rows) > 1:
            listed = "; ".join(f"{r[0]} ({r[1]}:{r[2] or r[3]})" for r in rows[:10])
            raise AccountLookupError(
                f"{query!r} is ambiguous: {listed}; use the id or platform:account_id"
            )
        return int(rows[0][0])

    # -- observations ----------------------------------------------------------

    def add_observation(self, obs: Observation) -> int:
        """Store one observation; its id."""
        cur = self.conn.execute(
            "INSERT INTO observations (account, observed_at, source, outcome, evidence, "
            "latest_post_at, post_id, post_url, post_title, detail, silent_since, profile, "
            "retry_after, recorded_at, detail_code, detail_params) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            _observation_row(obs),
        )
        return int(cur.lastrowid or 0)

    def add_observations(self, observations: Iterable[Observation]) -> int:
        """Store many observations in one transaction; how many."""
        with self.transaction():
            cur = self.conn.executemany(
                "INSERT INTO observations (account, observed_at, source, outcome, evidence, "
                "latest_post_at, post_id, post_url, post_title, detail, silent_since, profile, "
                "retry_after, recorded_at, detail_code, detail_params) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (_observation_row(o) for o in observations),
            )
        return cur.rowcount

    def observations(self, account: int, *, limit: int = 50) -> list[Observation]:
        """An account's newest observations, newest first."""
        rows = self.conn.execute(
            f"SELECT {_OBS_COLUMNS} FROM observations WHERE account = ? "
            "ORDER BY observed_at DESC, id DESC LIMIT ?",
            (account, limit),
        )
        return [_observation(r) for r in rows]

    # -- adapter state -----------------------------------------------------------

    def source_state(self, account: int) -> SourceState | None:
        """The adapter state last saved for an account, with what it was gathered from."""
        row = self.conn.execute(
            "SELECT source, key, state FROM source_state WHERE account = ?", (account,)
        ).fetchone()
        return SourceState(row[0], row[1], json.loads(row[2])) if row else None

    def source_states(self, accounts: Sequence[int]) -> dict[int, SourceState]:
        """The saved adapter states of some accounts (only those that have one)."""
        if not accounts:
            return {}
        rows = self.conn.execute(
            "SELECT account, source, key, state FROM source_state "
            f"WHERE account IN ({_id_list(accounts)})"
        )
        return {r[0]: SourceState(r[1], r[2], json.loads(r[3])) for r in rows}

    def save_source_state(
        self, account: int, source: str, state: dict[str, Any], key: str = ""
    ) -> None:
        self.conn.execute(
            "INSERT INTO source_state (account, source, key, state, updated_at) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(account) DO UPDATE SET source = excluded.source, key = excluded.key, "
            "state = excluded.state, updated_at = excluded.updated_at",
            (account, source, key, json.dumps(state, ensure_ascii=False), to_db(utcnow())),
        )

    # -- inspection --------------------------------------------------------------

    def table_counts(self) -> dict[str, int]:
        return {t: self.db[t].count for t in self.db.table_names()}

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, for tests that prove nothing changed."""
        return {
            t: self.conn.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall()
            for t in sorted(self.db.table_names())
        }

    # ==========================================================================
    # Current verdicts and flips
    # ==========================================================================

    def accounts_of_import(self, import_id: int) -> list[int]:
        """The accounts an import wrote a roster version for."""
        rows = self.conn.execute(
            "SELECT DISTINCT account FROM account_versions WHERE import_id = ? ORDER BY account",
            (import_id,),
        )
        return [r[0] for r in rows]

    def account_ids(self) -> list[int]:
        """Every account id, retired ones included, in roster order."""
        return [
            r[0] for r in self.conn.execute("SELECT id FROM accounts ORDER BY roster_order, id")
        ]

    def verdict_rows(self, accounts: Sequence[int]) -> dict[int, VerdictRow]:
        """The stored current verdicts of some accounts (those that have one)."""
        if not accounts:
            return {}
        rows = self.conn.execute(
            f"SELECT {_VERDICT_COLUMNS} FROM verdicts WHERE account IN ({_id_list(accounts)})"
        )
        return {r[0]: _verdict_row(r) for r in rows}

    def save_verdicts(self, rows: Sequence[VerdictRow], now: datetime) -> None:
        """Insert or replace current verdict rows."""
        if not rows:
            return
        stamp = to_db(now)
        self.conn.executemany(
            f"INSERT OR REPLACE INTO verdicts ({_VERDICT_COLUMNS}, updated_at) "
            f"VALUES ({', '.join('?' * 16)}, ?)",
            ((*_verdict_values(r), stamp) for r in rows),
        )

    def add_flips(self, flips: Sequence[Flip]) -> None:
        """Append changes of state."""
        self.conn.executemany(
            "INSERT INTO flips (account, at, from_state, to_state, evidence, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                (f.account, to_db(f.at), f.from_state, f.to_state, f.evidence, f.reason)
                for f in flips
            ),
        )

    def flips(self, account: int | None = None, *, limit: int = 100) -> list[Flip]:
        """Changes of state, newest first (one account's, or all)."""
        where, params = ("WHERE account = ?", [account]) if account is not None else ("", [])
        rows = self.conn.execute(
            "SELECT account, at, from_state, to_state, evidence, reason, id FROM flips "
            f"{where} ORDER BY at DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [Flip(r[0], from_db(r[1]) or utcnow(), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    def next_roster_changes(self, accounts: Sequence[int], after: datetime) -> dict[int, datetime]:
        """For each account with a roster version taking effect after `after`: the first one's time."""
        if not accounts:
            return {}
        rows = self.conn.execute(
            "SELECT account, MIN(valid_from) FROM account_versions "
            f"WHERE account IN ({_id_list(accounts)}) AND valid_from > ? GROUP BY account",
            (to_db(after),),
        )
        out = {}
        for account, when in rows:
            moment = from_db(when)
            if moment is not None:
                out[account] = moment
        return out

    def stale_verdicts(self, day: date, policy: str) -> list[int]:
        """Accounts whose stored verdict does not hold on `day` under `policy`, or who have none."""
        d = day.isoformat()
        rows = self.conn.execute(
            "SELECT account FROM verdicts WHERE policy != :p OR as_of > :d "
            "OR (valid_until IS NOT NULL AND valid_until <= :d) "
            "UNION ALL SELECT a.id FROM accounts a "
            "WHERE NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.account = a.id)",
            {"p": policy, "d": d},
        )
        return [r[0] for r in rows]

    def current_verdicts(
        self,
        day: date,
        policy: str,
        where: VerdictQuery,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[tuple[int, int, str]]:
        """Stored verdicts that hold on `day` and match: (account, roster_order, state), in order."""
        sql, params = _verdict_where(day, policy, where)
        page = ""
        if limit is not None:
            page = " LIMIT :limit OFFSET :offset"
            params |= {"limit": int(limit), "offset": int(offset)}
        rows = self.conn.execute(
            f"SELECT account, roster_order, state FROM verdicts WHERE {sql} "
            f"ORDER BY roster_order, account{page}",
            params,
        )
        return [(r[0], r[1], r[2]) for r in rows]

    def count_current_verdicts(
        self, day: date, policy: str, where: VerdictQuery, *, by: str = "state"
    ) -> dict[tuple[Any, ...], int]:
        """Stored verdicts that hold on `day` and match, counted by `state` or `unit,state`."""
        groups = {"state": "state", "unit,state": "unit, state", "region,state": "region, state"}
        if by not in groups:
            raise ValueError(f"cannot count verdicts by {by!r}")
        sql, params = _verdict_where(day, policy, where)
        rows = self.conn.execute(
            f"SELECT {groups[by]}, COUNT(*) FROM verdicts WHERE {sql} GROUP BY {groups[by]}",
            params,
        )
        return {tuple(r[:-1]): r[-1] for r in rows}

    # ==========================================================================
    # Daemon, alerts and outbox (schedule, alerts, deliveries, source health)
    # ==========================================================================

    # -- schedule ----------------------------------------------------------------

    def ensure_schedule(self, now: datetime, accounts: Sequence[int] | None = None) -> int:
        """Give every account (or each of `accounts`) without a schedule row one due now."""
        which = "" if accounts is None else f"AND a.id IN ({_id_list(accounts) or 'NULL'})"
        cur = self.conn.execute(
            "INSERT INTO schedule (account, next_check_at) "
            "SELECT a.id, ? FROM accounts a "
            f"WHERE NOT EXISTS (SELECT 1 FROM schedule s WHERE s.account = a.id) {which}",
            (to_db(now),),
        )
        return cur.rowcount

    def due_accounts(self, now: datetime, *, limit: int | None = None) -> list[int]:
        """Accounts whose next check is due at `now` and that nobody holds, soonest first."""
        t = to_db(now)
        sql = (
            "SELECT account FROM schedule WHERE next_check_at <= ? "
            "AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY next_check_at, account"
        )
        params: tuple[Any, ...] = (t, t)
        if limit is not None:
            sql += " LIMIT ?"
            params = (t, t, limit)
        return [r[0] for r in self.conn.execute(sql, params)]

    def claim_checks(
        self, accounts: Sequence[int], owner: str, now: datetime, until: datetime
    ) -> set[int]:
        """Take the due checks of some accounts in one conditional UPDATE; the ones now ours."""
        if not accounts:
            return set()
        t = to_db(now)
        rows = self.conn.execute(
            "UPDATE schedule SET claimed_by = ?, claimed_until = ? "
            f"WHERE account IN ({_id_list(accounts)}) AND next_check_at <= ? "
            "AND (claimed_until IS NULL OR claimed_until <= ?) RETURNING account",
            (owner, to_db(until), t, t),
        ).fetchall()
        return {r[0] for r in rows}

    def record_schedule(
        self,
        account: int,
        *,
        now: datetime,
        outcome: Outcome | None,
        next_check_at: datetime,
    ) -> None:
        """After a check: update the failure streak and times, set the next check, release.

        `outcome` None means nothing could run (no source): only the next check moves.
        """
        t = to_db(now)
        if outcome is None:
            self.conn.execute(
                "UPDATE schedule SET next_check_at = ?, claimed_by = NULL, claimed_until = NULL "
                "WHERE account = ?",
                (to_db(next_check_at), account),
            )
        else:
            ok = outcome.is_evidence
            self.conn.execute(
                """
                UPDATE schedule SET
                    next_check_at = :next, claimed_by = NULL, claimed_until = NULL,
                    failures = CASE WHEN :ok THEN 0 ELSE failures + 1 END,
                    first_checked_at = COALESCE(first_checked_at, :t),
                    last_checked_at = :t,
                    last_success_at = CASE WHEN :ok THEN :t ELSE last_success_at END,
                    last_outcome = :outcome
                WHERE account = :account
                """,
                {
                    "next": to_db(next_check_at),
                    "ok": int(ok),
                    "t": t,
                    "outcome": outcome.value,
                    "account": account,
                },
            )

    def schedule_row(self, account: int) -> ScheduleRow | None:
        row = self.conn.execute(
            f"SELECT {_SCHEDULE_COLUMNS} FROM schedule WHERE account = ?", (account,)
        ).fetchone()
        return _schedule(row) if row else None

    def failure_streaks(self, accounts: Sequence[int]) -> dict[int, int]:
        """Consecutive failed checks of some accounts (those with a schedule row)."""
        if not accounts:
            return {}
        rows = self.conn.execute(
            f"SELECT account, failures FROM schedule WHERE account IN ({_id_list(accounts)})"
        )
        return {r[0]: r[1] for r in rows}

    def schedule_rows(self, accounts: Sequence[int] | None = None) -> list[ScheduleRow]:
        """Every account's schedule row (or those of `accounts`)."""
        which = "" if accounts is None else f"WHERE account IN ({_id_list(accounts) or 'NULL'})"
        rows = self.conn.execute(
            f"SELECT {_SCHEDULE_COLUMNS} FROM schedule {which} ORDER BY account"
        )
        return [_schedule(r) for r in rows]

    def claim_owners(self) -> list[str]:
        """The owners of checks claimed and not yet recorded."""
        rows = self.conn.execute(
            "SELECT DISTINCT claimed_by FROM schedule WHERE claimed_by IS NOT NULL"
        )
        return [r[0] for r in rows]

    def release_claims(self, owner: str, accounts: Sequence[int] | None = None) -> int:
        """Give back the checks an owner holds (all, or of some accounts): due again at once."""
        sql = "UPDATE schedule SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?"
        if accounts is not None:
            if not accounts:
                return 0
            sql += f" AND account IN ({_id_list(accounts)})"
        return self.conn.execute(sql, (owner,)).rowcount

    # -- alerts ------------------------------------------------------------------

    def open_alert(
        self,
        *,
        kind: str,
        now: datetime,
        account: int | None = None,
        unit: int | None = None,
        source: str | None = None,
        observation: int | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> int | None:
        """Open an alert; None when one of this (account, kind) or (kind, source) is open.

        The unique partial indexes decide, so concurrent or repeated runs never duplicate.
        """
        cur = self.conn.execute(
            "INSERT INTO alerts (account, unit, kind, source, opened_at, observation, evidence) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                account,
                unit,
                kind,
                source,
                to_db(now),
                observation,
                json.dumps(evidence or {}, ensure_ascii=False),
            ),
        )
        return int(cur.lastrowid) if cur.rowcount == 1 and cur.lastrowid else None

    def close_alert(self, alert: int, now: datetime, reason: str) -> bool:
        """Close an open alert (conditional: a closed one stays as it was)."""
        cur = self.conn.execute(
            "UPDATE alerts SET closed_at = ?, close_reason = ? WHERE id = ? AND closed_at IS NULL",
            (to_db(now), reason, alert),
        )
        return cur.rowcount == 1

    def open_alerts(
        self,
        *,
        account: int | None = None,
        kinds: Iterable[str] | None = None,
        source: str | None = None,
    ) -> list[AlertRow]:
        """Open alerts, optionally of one account, of some kinds, of one source-wide source."""
        where = ["closed_at IS NULL"]
        params: list[Any] = []
        if account is not None:
            where.append("account = ?")
            params.append(account)
        if kinds is not None:
            kinds = list(kinds)
            where.append(f"kind IN ({','.join('?' for _ in kinds)})")
            params.extend(kinds)
        if source is not None:
            where.append("source = ? AND account IS NULL")
            params.append(source)
        rows = self.conn.execute(
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE {' AND '.join(where)} ORDER BY id",
            params,
        )
        return [_alert(r) for r in rows]

    def open_alerts_by_account(self, accounts: Sequence[int] | None) -> dict[int, list[AlertRow]]:
        """The open alerts of some accounts (None: of every account), oldest first.

        Accounts without an open alert are absent.
        """
        if accounts is not None and not accounts:
            return {}
        which = "IS NOT NULL" if accounts is None else f"IN ({_id_list(accounts)})"
        out: dict[int, list[AlertRow]] = {}
        rows = self.conn.execute(
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE closed_at IS NULL "
            f"AND account {which} ORDER BY id"
        )
        for r in rows:
            row = _alert(r)
            out.setdefault(r[1], []).append(row)
        return out

    def alert_row(self, alert: int) -> AlertRow | None:
        row = self.conn.execute(
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert,)
        ).fetchone()
        return _alert(row) if row else None

    def alert_listing(
        self, moment: datetime, *, open_only: bool = True, ids: Sequence[int] | None = None
    ) -> list[dict[str, Any]]:
        """Alerts with their account's roster fields in force at `moment`, newest first."""
        where = ["al.closed_at IS NULL"] if open_only else []
        if ids is not None:
            if not ids:
                return []
            where.append(f"al.id IN ({_id_list(ids)})")
        sql = f"""
            SELECT al.id, al.kind, al.account, al.source, al.opened_at, al.closed_at,
                   al.close_reason, al.observation, al.evidence, al.acked_at, al.ack_note,
                   a.platform, a.account_id, v.name, v.region, COALESCE(u.name, au.name), al.unit
            FROM alerts al
            LEFT JOIN accounts a ON a.id = al.account
            LEFT JOIN account_versions v ON v.id = (
                SELECT vv.id FROM account_versions vv
                WHERE vv.account = a.id AND vv.valid_from <= :t
                ORDER BY vv.valid_from DESC, vv.id DESC LIMIT 1)
            LEFT JOIN units u ON u.id = al.unit
            LEFT JOIN units au ON au.id = v.unit
            {"WHERE " + " AND ".join(where) if where else ""}
            ORDER BY al.opened_at DESC, al.id DESC
        """
        out = []
        for r in self.conn.execute(sql, {"t": to_db(moment)}):
            out.append(
                {
                    "id": r[0],
                    "kind": r[1],
                    "account": r[2],
                    "source": r[3],
                    "opened_at": from_db(r[4]),
                    "closed_at": from_db(r[5]),
                    "close_reason": r[6],
                    "observation": r[7],
                    "evidence": json.loads(r[8]) if r[8] else {},
                    "acked_at": from_db(r[9]),
                    "ack_note": r[10],
                    "platform": r[11],
                    "account_id": r[12],
                    "name": r[13],
                    "region": r[14],
                    "unit": r[15],
                    "unit_id": r[16],
                }
            )
        return out

    def ack_alert(self, alert: int, now: datetime, note: str | None) -> bool:
        """Acknowledge an alert (open or closed); False when there is no such alert."""
        cur = self.conn.execute(
            "UPDATE alerts SET acked_at = ?, ack_note = ? WHERE id = ?",
            (to_db(now), note, alert),
        )
        return cur.rowcount == 1

    # -- outbox ------------------------------------------------------------------

    def enqueue_delivery(
        self,
        *,
        event: str,
        channel: str,
        title: str,
        body: str,
        now: datetime,
        alert: int | None = None,
        unit: int | None = None,
    ) -> bool:
        """Write one message for one channel before anything is sent; False if already there."""
        cur = self.conn.execute(
            "INSERT INTO deliveries (event, alert, unit, channel, title, body, created_at, "
            "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (event, alert, unit, channel, title, body, to_db(now), to_db(now)),
        )
        return cur.rowcount == 1

    def due_deliveries(self, now: datetime, *, limit: int = 100) -> list[DeliveryRow]:
        """Undelivered, not abandoned, due and unclaimed deliveries, oldest first."""
        t = to_db(now)
        rows = self.conn.execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries "
            "WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ? "
            "AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY next_attempt_at, id "
            "LIMIT ?",
            (t, t, limit),
        )
        return [_delivery(r) for r in rows]

    def claim_delivery(self, delivery: int, now: datetime, until: datetime) -> bool:
        """Take a delivery before sending it (conditional UPDATE; counts the attempt)."""
        t = to_db(now)
        cur = self.conn.execute(
            "UPDATE deliveries SET claimed_until = ?, attempts = attempts + 1 "
            "WHERE id = ? AND delivered_at IS NULL AND failed_at IS NULL "
            "AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)",
            (to_db(until), delivery, t, t),
        )
        return cur.rowcount == 1

    def mark_delivered(self, delivery: int, now: datetime) -> None:
        self.conn.execute(
            "UPDATE deliveries SET delivered_at = ?, claimed_until = NULL, last_error = NULL "
            "WHERE id = ?",
            (to_db(now), delivery),
        )

    def mark_delivery_failed(
        self, delivery: int, now: datetime, error: str, next_attempt_at: datetime | None
    ) -> None:
        """Record a failed attempt: retry at `next_attempt_at`, or give up when it is None."""
        if next_attempt_at is None:
            self.conn.execute(
                "UPDATE deliveries SET failed_at = ?, claimed_until = NULL, last_error = ? "
                "WHERE id = ?",
                (to_db(now), error, delivery),
            )
        else:
            self.conn.execute(
                "UPDATE deliveries SET next_attempt_at = ?, claimed_until = NULL, last_error = ? "
                "WHERE id = ?",
                (to_db(next_attempt_at), error, delivery),
            )

    def deliveries(self, *, alert: int | None = None) -> list[DeliveryRow]:
        """Every delivery (of one alert), in order."""
        if alert is None:
            rows = self.conn.execute(f"SELECT {_DELIVERY_COLUMNS} FROM deliveries ORDER BY id")
        else:
            rows = self.conn.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE alert = ? ORDER BY id", (alert,)
            )
        return [_delivery(r) for r in rows]

    # -- source health and heartbeat ----------------------------------------------

    def source_health(self, source: str) -> SourceHealth:
        row = self.conn.execute(
            "SELECT source, streak, level, paused_until, last_outcome FROM source_health "
            "WHERE source = ?",
            (source,),
        ).fetchone()
        if row is None:
            return SourceHealth(source)
        return SourceHealth(row[0], json.loads(row[1]), row[2], from_db(row[3]), row[4])

    def save_source_health(self, health: SourceHealth, now: datetime) -> None:
        self.conn.execute(
            "INSERT INTO source_health (source, streak, level, paused_until, last_outcome, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(source) DO UPDATE SET "
            "streak = excluded.streak, level = excluded.level, "
            "paused_until = excluded.paused_until, last_outcome = excluded.last_outcome, "
            "updated_at = excluded.updated_at",
            (
                health.source,
                json.dumps(health.streak),
                health.level,
                to_db(health.paused_until) if health.paused_until else None,
                health.last_outcome,
                to_db(now),
            ),
        )

    def paused_sources(self, now: datetime) -> dict[str, datetime]:
        """Sources paused by backoff at `now`, with the end of the pause."""
        rows = self.conn.execute(
            "SELECT source, paused_until FROM source_health WHERE paused_until > ?", (to_db(now),)
        )
        out = {}
        for source, until in rows:
            moment = from_db(until)
            if moment is not None:
                out[source] = moment
        return out

    def beat(self, name: str, now: datetime, detail: dict[str, Any] | None = None) -> None:
        """Record that `name` (the daemon, a daily job) ran at `now`."""
        self.conn.execute(
            "INSERT INTO heartbeat (name, at, detail) VALUES (?, ?, ?) ON CONFLICT(name) "
            "DO UPDATE SET at = excluded.at, detail = excluded.detail",
            (name, to_db(now), json.dumps(detail or {}, ensure_ascii=False)),
        )

    def heartbeat(self, name: str) -> tuple[datetime, dict[str, Any]] | None:
        row = self.conn.execute(
            "SELECT at, detail FROM heartbeat WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            return None
        at = from_db(row[0])
        assert at is not None
        return at, json.loads(row[1])

    def observation_counts_since(self, since: datetime) -> dict[tuple[str, str], int]:
        """Checks per (source, outcome) observed at or after `since`."""
        rows = self.conn.execute(
            "SELECT source, outcome, COUNT(*) FROM observations WHERE observed_at >= ? "
            "GROUP BY source, outcome",
            (to_db(since),),
        )
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def integrity_check(self) -> str:
        """PRAGMA integrity_check's answer ("ok" when the file is sound)."""
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])


_PLATFORMS = {p.value: p for p in Platform}
_STATUSES = {s.value: s for s in RosterStatus}
_OUTCOMES = {o.value: o for o in Outcome}


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _observation_row(obs: Observation) -> tuple[Any, ...]:
    return (
        obs.account,
        to_db(obs.observed_at),
        obs.source,
        obs.outcome.value,
        int(obs.outcome.is_evidence),
        to_db(obs.latest_post_at) if obs.latest_post_at else None,
        obs.post_id,
        http_link(obs.post_url),
        obs.post_title,
        obs.detail,
        obs.silent_since.isoformat() if obs.silent_since else None,
        json.dumps(obs.profile, ensure_ascii=False) if obs.profile is not None else None,
        obs.retry_after,
        to_db(utcnow()),
        obs.detail_code,
        json.dumps(obs.detail_params, ensure_ascii=False) if obs.detail_params else None,
    )


def _observation(r: Sequence[Any]) -> Observation:
    observed_at = from_db(r[2])
    assert observed_at is not None
    return Observation(
        id=r[0],
        account=r[1],
        observed_at=observed_at,
        source=r[3],
        outcome=_OUTCOMES[r[4]],
        latest_post_at=from_db(r[5]),
        post_id=r[6],
        post_url=r[7],
        post_title=r[8],
        detail=r[9],
        silent_since=date.fromisoformat(r[10]) if r[10] else None,
        profile=json.loads(r[11]) if r[11] else None,
        retry_after=r[12],
        detail_code=r[13],
        detail_params=json.loads(r[14]) if r[14] else None,
    )


# -- rows of the daemon's tables ------------------------------------------------------


@dataclass(slots=True)
class ScheduleRow:
    """An account's place in the daemon's schedule."""

    account: int
    next_check_at: datetime
    claimed_by: str | None
    claimed_until: datetime | None
    failures: int
    first_checked_at: datetime | None
    last_checked_at: datetime | None
    last_success_at: datetime | None
    last_outcome: Outcome | None


def _id_list(ids: Iterable[int]) -> str:
    """Integer ids for an `IN (...)` list; int() keeps anything else out of the SQL."""
    return ",".join(str(int(i)) for i in ids)


_SCHEDULE_COLUMNS = (
    "account, next_check_at, claimed_by, claimed_until, failures, first_checked_at, "
    "last_checked_at, last_success_at, last_outcome"
)


def _schedule(r: Sequence[Any]) -> ScheduleRow:
    next_at = from_db(r[1])
    assert next_at is not None
    return ScheduleRow(
        account=r[0],
        next_check_at=next_at,
        claimed_by=r[2],
        claimed_until=from_db(r[3]),
        failures=r[4],
        first_checked_at=from_db(r[5]),
        last_checked_at=from_db(r[6]),
        last_success_at=from_db(r[7]),
        last_outcome=Outcome(r[8]) if r[8] else None,
    )


@dataclass(slots=True)
class AlertRow:
    """One alert as stored."""

    id: int
    account: int | None
    unit: int | None
    kind: str
    source: str | None
    opened_at: datetime
    closed_at: datetime | None
    close_reason: str | None
    observation: int | None
    evidence: dict[str, Any]
    acked_at: datetime | None
    ack_note: str | None


_ALERT_COLUMNS = (
    "id, account, unit, kind, source, opened_at, closed_at, close_reason, observation, "
    "evidence, acked_at, ack_note"
)


def _alert(r: Sequence[Any]) -> AlertRow:
    opened = from_db(r[5])
    assert opened is not None
    return AlertRow(
        id=r[0],
        account=r[1],
        unit=r[2],
        kind=r[3],
        source=r[4],
        opened_at=opened,
        closed_at=from_db(r[6]),
        close_reason=r[7],
        observation=r[8],
        evidence=json.loads(r[9]) if r[9] else {},
        acked_at=from_db(r[10]),
        ack_note=r[11],
    )


@dataclass(slots=True)
class DeliveryRow:
    """One message for one channel in the outbox."""

    id: int
    event: str
    alert: int | None
    unit: int | None
    channel: str
    title: str
    body: str
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None
    failed_at: datetime | None


_DELIVERY_COLUMNS = (
    "id, event, alert, unit, channel, title, body, created_at, attempts, next_attempt_at, "
    "last_error, delivered_at, failed_at"
)


def _delivery(r: Sequence[Any]) -> DeliveryRow:
    created, next_at = from_db(r[7]), from_db(r[9])
    assert created is not None and next_at is not None
    return DeliveryRow(
        id=r[0],
        event=r[1],
        alert=r[2],
        unit=r[3],
        channel=r[4],
        title=r[5],
        body=r[6],
        created_at=created,
        attempts=r[8],
        next_attempt_at=next_at,
        last_error=r[10],
        delivered_at=from_db(r[11]),
        failed_at=from_db(r[12]),
    )


@dataclass(slots=True)
class SourceHealth:
    """A source's run of rate-limited/blocked answers (distinct accounts) and its backoff."""

    source: str
    streak: list[int] = field(default_factory=list)
    level: int = 0
    paused_until: datetime | None = None
    last_outcome: str | None = None


# -- current verdicts ----------------------------------------------------------------------


@dataclass(slots=True)
class VerdictRow:
    """An account's stored current verdict, with the roster fields lists filter on."""

    account: int
    state: str
    since: datetime
    as_of: date
    valid_until: date | None
    policy: str
    evidence: int | None
    reason: str
    latest_post_date: date | None
    roster_problem: str | None
    platform: str
    unit: int
    region: str
    name: str
    roster_order: int
    retired: bool


_VERDICT_COLUMNS = (
    "account, state, since, as_of, valid_until, policy, evidence, reason, latest_post_date, "
    "roster_problem, platform, unit, region, name, roster_order, retired"
)


def _verdict_values(r: VerdictRow) -> tuple[Any, ...]:
    return (
        r.account,
        r.state,
        to_db(r.since),
        r.as_of.isoformat(),
        r.valid_until.isoformat() if r.valid_until else None,
        r.policy,
        r.evidence,
        r.reason,
        r.latest_post_date.isoformat() if r.latest_post_date else None,
        r.roster_problem,
        r.platform,
        r.unit,
        r.region,
        r.name,
        r.roster_order,
        int(r.retired),
    )


def _verdict_row(r: Sequence[Any]) -> VerdictRow:
    return VerdictRow(
        account=r[0],
        state=r[1],
        since=from_db(r[2]) or utcnow(),
        as_of=date.fromisoformat(r[3]),
        valid_until=date.fromisoformat(r[4]) if r[4] else None,
        policy=r[5],
        evidence=r[6],
        reason=r[7],
        latest_post_date=date.fromisoformat(r[8]) if r[8] else None,
        roster_problem=r[9],
        platform=r[10],
        unit=r[11],
        region=r[12],
        name=r[13],
        roster_order=r[14],
        retired=bool(r[15]),
    )


@dataclass(slots=True)
class VerdictQuery:
    """Filters on stored current verdicts (None = any)."""

    unit: int | None = None
    region: str | None = None
    platform: str | None = None
    states: frozenset[str] | None = None
    name_contains: str | None = None
    include_retired: bool = False
    accounts: Sequence[int] | None = None


def _verdict_where(day: date, policy: str, q: VerdictQuery) -> tuple[str, dict[str, Any]]:
    """The WHERE clause of rows that hold on `day` under `policy` and match `q`."""
    clauses = ["policy = :policy", "as_of <= :day", "(valid_until IS NULL OR valid_until > :day)"]
    params: dict[str, Any] = {"policy": policy, "day": day.isoformat()}
    if not q.include_retired:
        clauses.append("retired = 0")
    if q.unit is not None:
        clauses.append("unit = :unit")
        params["unit"] = int(q.unit)
    if q.region is not None:
        clauses.append("region = :region")
        params["region"] = q.region
    if q.platform is not None:
        clauses.append("platform = :platform")
        params["platform"] = q.platform
    if q.states is not None:
        names = sorted(q.states)
        clauses.append(
            f"state IN ({', '.join(f':s{i}' for i in range(len(names)))})" if names else "0"
        )
        params |= {f"s{i}": n for i, n in enumerate(names)}
    if q.name_contains:
        clauses.append("instr(name, :q) > 0")
        params["q"] = q.name_contains
    if q.accounts is not None:
        clauses.append(f"account IN ({_id_list(q.accounts) or 'NULL'})")
    return " AND ".join(clauses), params


@dataclass(slots=True)
class Flip:
    """One change of an account's current state."""

    account: int
    at: datetime
    from_state: str | None
    to_state: str
    evidence: int | None
    reason: str
    id: int | None = None
