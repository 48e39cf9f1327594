"""Units, accounts and roster versions: what the roster said, and when."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.dates import BEGINNING, from_db, to_db
from monitor.models import (
    MAX_ID,
    AccountView,
    Observation,
    Outcome,
    Platform,
    identity_text,
)
from monitor.store.base import StoreBase
from monitor.store.errors import AccountLookupError
from monitor.store.observations import _OBS_COLUMNS, _OBS_COUNT, _observation
from monitor.store.sql import _OUTCOMES, _PLATFORMS, _STATUSES, _id_list

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


class RosterTables(StoreBase):
    """Units, accounts and their roster versions (imports, roster in force at a moment)."""

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
