"""The daemon's schedule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.dates import from_db, to_db
from monitor.models import (
    Outcome,
)
from monitor.store.base import StoreBase
from monitor.store.sql import _id_list


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


class ScheduleTables(StoreBase):
    """The daemon's schedule: next check, claims, failure streaks."""

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
