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
from monitor.models import AccountView, Observation, Outcome, Platform, RosterStatus


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


_OBS_COLUMNS = (
    "id, account, observed_at, source, outcome, latest_post_at, post_id, post_url, "
    "post_title, detail, silent_since, profile, retry_after"
)


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
            LEFT JOIN observations e ON e.id = (
                SELECT o.id FROM observations o
                WHERE o.account = a.id AND o.evidence = 1 AND o.observed_at <= :t
                ORDER BY o.observed_at DESC, o.id DESC LIMIT 1)
            LEFT JOIN observations c ON c.id = (
                SELECT o.id FROM observations o
                WHERE o.account = a.id AND o.observed_at <= :t
                ORDER BY o.observed_at DESC, o.id DESC LIMIT 1)
            """
            if observations
            else ""
        )
        where = [] if include_retired else ["v.retired = 0"]
        params: dict[str, Any] = {"t": t}
        if ids is not None:
            if not ids:
                return []
            id_list = ",".join(str(int(i)) for i in ids)
            where.append(f"a.id IN ({id_list})")
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
        for r in self.conn.execute(sql, params):
            fields = dict(zip(VERSIONED_FIELDS, r[7 : 7 + nf], strict=True))
            view = AccountView(
                id=r[0],
                platform=Platform(r[1]),
                account_id=r[2],
                roster_order=r[3],
                unit_id=r[4],
                unit=r[5],
                retired=bool(r[6]),
                name=fields["name"],
                region=fields["region"],
                status=RosterStatus(fields["status"]),
                supervisor=fields["supervisor"],
                contact=fields["contact"],
                note=fields["note"],
                source=fields["source"],
                feed_url=fields["feed_url"],
                appid=fields["appid"],
                secret_env=fields["secret_env"],
            )
            if not observations:
                out.append(AccountState(view, None, None, None))
                continue
            rest = r[7 + nf :]
            evidence = _observation(rest[:13]) if rest[0] is not None else None
            last_at = from_db(rest[13])
            last_outcome = Outcome(rest[14]) if rest[14] else None
            out.append(AccountState(view, evidence, last_at, last_outcome))
        return out

    def find_accounts(self, query: str) -> list[tuple[int, str, str, str]]:
        """Accounts matching a query as (id, platform, account_id, name), best kind of match only.

        Tried in order: the stable id; `platform:account_id`; `platform:name`; a name.
        """
        q = query.strip()
        current = """
            SELECT a.id, a.platform, a.account_id, v.name FROM accounts a
            JOIN account_versions v ON v.id = (
                SELECT vv.id FROM account_versions vv WHERE vv.account = a.id
                ORDER BY vv.valid_from DESC, vv.id DESC LIMIT 1)
        """
        if q.isdigit():
            rows = self.conn.execute(current + " WHERE a.id = ?", (int(q),)).fetchall()
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
        return self.conn.execute(current + " WHERE v.name = ? ORDER BY a.id", (q,)).fetchall()

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
            "retry_after, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            _observation_row(obs),
        )
        return int(cur.lastrowid or 0)

    def add_observations(self, observations: Iterable[Observation]) -> int:
        """Store many observations in one transaction; how many."""
        with self.transaction():
            cur = self.conn.executemany(
                "INSERT INTO observations (account, observed_at, source, outcome, evidence, "
                "latest_post_at, post_id, post_url, post_title, detail, silent_since, profile, "
                "retry_after, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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

    def source_state(self, account: int) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT state FROM source_state WHERE account = ?", (account,)
        ).fetchone()
        return json.loads(row[0]) if row else {}

    def save_source_state(self, account: int, source: str, state: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO source_state (account, source, state, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(account) DO UPDATE SET source = excluded.source, state = excluded.state, "
            "updated_at = excluded.updated_at",
            (account, source, json.dumps(state, ensure_ascii=False), to_db(utcnow())),
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
        obs.post_url,
        obs.post_title,
        obs.detail,
        obs.silent_since.isoformat() if obs.silent_since else None,
        json.dumps(obs.profile, ensure_ascii=False) if obs.profile is not None else None,
        obs.retry_after,
        to_db(utcnow()),
    )


def _observation(r: Sequence[Any]) -> Observation:
    observed_at = from_db(r[2])
    assert observed_at is not None
    return Observation(
        id=r[0],
        account=r[1],
        observed_at=observed_at,
        source=r[3],
        outcome=Outcome(r[4]),
        latest_post_at=from_db(r[5]),
        post_id=r[6],
        post_url=r[7],
        post_title=r[8],
        detail=r[9],
        silent_since=date.fromisoformat(r[10]) if r[10] else None,
        profile=json.loads(r[11]) if r[11] else None,
        retry_after=r[12],
    )
