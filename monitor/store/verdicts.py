"""Current verdicts (one row per account) and flips (every change of state)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from monitor.dates import from_db, to_db, utcnow
from monitor.store.base import StoreBase
from monitor.store.sql import _id_list


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
    # The kinds of its roster problems (名单问题), comma-separated; "" when none.
    findings: str = ""


_VERDICT_COLUMNS = (
    "account, state, since, as_of, valid_until, policy, evidence, reason, latest_post_date, "
    "roster_problem, platform, unit, region, name, roster_order, retired, findings"
)


_VERDICT_NAMES = tuple(c.strip() for c in _VERDICT_COLUMNS.split(","))


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
        r.findings,
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
        findings=r[16] or "",
    )


@dataclass(slots=True)
class VerdictQuery:
    """Filters on stored current verdicts (None = any)."""

    unit: int | None = None
    # A caller's scope: only these units (a unit user's); None = every unit.
    unit_ids: frozenset[int] | None = None
    region: str | None = None
    platform: str | None = None
    states: frozenset[str] | None = None
    name_contains: str | None = None
    include_retired: bool = False
    accounts: Sequence[int] | None = None
    # Only accounts with a roster problem (名单问题).
    with_findings: bool = False
    # What needs attention: these states, or any state with a roster problem.
    attention: frozenset[str] | None = None


def _verdict_where(
    day: date, policy: str, q: VerdictQuery, stale: Sequence[int] | None = None
) -> tuple[str, dict[str, Any]]:
    """The WHERE clause of rows that hold on `day` under `policy` and match `q`.

    With `stale` (the rows are uniform: see `verdicts_uniform`) only those accounts are
    left out, so the partial indexes on `retired = 0` answer alone.
    """
    if stale is None:
        clauses = [
            "policy = :policy",
            "as_of <= :day",
            "(valid_until IS NULL OR valid_until > :day)",
        ]
        params: dict[str, Any] = {"policy": policy, "day": day.isoformat()}
    else:
        clauses = [f"account NOT IN ({_id_list(stale)})"] if stale else []
        params = {}
    if not q.include_retired:
        clauses.append("retired = 0")
    if q.unit is not None:
        clauses.append("unit = :unit")
        params["unit"] = int(q.unit)
    if q.unit_ids is not None:
        clauses.append(f"unit IN ({_id_list(sorted(q.unit_ids)) or 'NULL'})")
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
    if q.with_findings:
        clauses.append("findings != ''")
    if q.attention is not None:
        names = sorted(q.attention)
        marks = ", ".join(f":a{i}" for i in range(len(names)))
        clauses.append(f"(state IN ({marks or 'NULL'}) OR findings != '')")
        params |= {f"a{i}": n for i, n in enumerate(names)}
    if q.name_contains:
        clauses.append("instr(name, :q) > 0")
        params["q"] = q.name_contains
    if q.accounts is not None:
        clauses.append(f"account IN ({_id_list(q.accounts) or 'NULL'})")
    return " AND ".join(clauses) or "1", params


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


class VerdictTables(StoreBase):
    """Each account's current verdict, and every change of state (flips)."""

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
        self.db["verdicts"].upsert_all(  # type: ignore[union-attr]
            ({**dict(zip(_VERDICT_NAMES, _verdict_values(r), strict=True)), "updated_at": stamp}
             for r in rows),
            pk="account",
        )  # fmt: skip

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

    def verdicts_uniform(self, day: date, policy: str) -> bool:
        """Whether every account has a row judged under `policy` on or before `day`.

        Then only rows past their `valid_until` are stale, and lists need not test each
        row's policy and day: asked before every list, answered from indexes.
        """
        odd = self.conn.execute(
            "SELECT EXISTS (SELECT 1 FROM verdicts WHERE policy < :p OR policy > :p) "
            "OR EXISTS (SELECT 1 FROM verdicts WHERE policy = :p AND as_of > :d) "
            "OR (SELECT COUNT(*) FROM verdicts) < (SELECT COUNT(*) FROM accounts)",
            {"p": policy, "d": day.isoformat()},
        ).fetchone()[0]
        return not odd

    def stale_verdicts(self, day: date, policy: str, *, uniform: bool | None = None) -> list[int]:
        """Accounts whose stored verdict does not hold on `day` under `policy`, or who have none."""
        d = day.isoformat()
        if uniform is None:
            uniform = self.verdicts_uniform(day, policy)
        if uniform:
            rows = self.conn.execute("SELECT account FROM verdicts WHERE valid_until <= ?", (d,))
        else:
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
        stale: Sequence[int] | None = None,
    ) -> list[tuple[int, int, str]]:
        """Stored verdicts that hold on `day` and match: (account, roster_order, state), in order.

        `stale`: when every row is uniform (`verdicts_uniform`), the accounts whose row
        expired; the others are then taken as they are, from the indexes alone.
        """
        sql, params = _verdict_where(day, policy, where, stale)
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

    def verdict_groups(
        self, day: date, policy: str, where: VerdictQuery, *, stale: Sequence[int] | None = None
    ) -> list[tuple[int, str, str, int]]:
        """(unit id, unit name, region, first roster order) of the stored rows that hold on
        `day` and match `where`, in roster order of each pair's first account."""
        sql, params = _verdict_where(day, policy, where, stale)
        rows = self.conn.execute(
            "SELECT unit, (SELECT u.name FROM units u WHERE u.id = verdicts.unit), region, "
            f"MIN(roster_order) AS first FROM verdicts WHERE {sql} GROUP BY unit, region "
            "ORDER BY first, unit",
            params,
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def count_current_verdicts(
        self,
        day: date,
        policy: str,
        where: VerdictQuery,
        *,
        by: str = "state",
        stale: Sequence[int] | None = None,
    ) -> dict[tuple[Any, ...], int]:
        """Stored verdicts that hold on `day` and match, counted by the columns `by` names.

        `by`: "state", "unit,state" or "region,state"; with ",roster" the last key
        says whether the account has a roster problem (名单问题).
        """
        groups = {"state": "state", "unit,state": "unit, state", "region,state": "region, state"}
        groups |= {f"{k},roster": f"{v}, findings != ''" for k, v in groups.items()}
        if by not in groups:
            raise ValueError(f"cannot count verdicts by {by!r}")
        sql, params = _verdict_where(day, policy, where, stale)
        rows = self.conn.execute(
            f"SELECT {groups[by]}, COUNT(*) FROM verdicts WHERE {sql} GROUP BY {groups[by]}",
            params,
        )
        roster = by.endswith(",roster")
        return {(*r[:-2], bool(r[-2])) if roster else tuple(r[:-1]): r[-1] for r in rows}
