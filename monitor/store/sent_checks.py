"""Checks a coordinator sent to fetch workers (scale out): one row per check id.

A row is open from sending until the check is recorded, failed or given up. Closing
it is a conditional UPDATE, so a check that ran twice (a worker killed after the
fetch, the task delivered again) is recorded once: only the first close wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.dates import to_db
from monitor.store.base import StoreBase

# SQLite's default limit of host parameters is 32766; stay far under it.
_CHUNK = 500

# How a sent check ended (`sent_checks.ended`).
RECORDED = "recorded"
FAILED = "failed"  # the task failed by the retry policy: the account stays due
ABANDONED = "abandoned"  # no result in time, or its coordinator stopped: stays due


@dataclass(frozen=True, slots=True)
class SentCheck:
    """One check sent as part of a task."""

    check_id: str
    account: int
    source: str
    task_id: str
    sent_by: str
    sent_at: datetime


class SentCheckTables(StoreBase):
    """Checks sent to fetch workers and how each ended."""

    def add_sent_checks(self, checks: Sequence[SentCheck]) -> None:
        """Note checks about to be sent (before sending: a crash leaves them open, not lost)."""
        self.conn.executemany(
            "INSERT INTO sent_checks (check_id, account, source, task_id, sent_by, sent_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (c.check_id, c.account, c.source, c.task_id, c.sent_by, to_db(c.sent_at))
                for c in checks
            ],
        )

    def end_sent_checks(self, check_ids: Sequence[str], ended: str, now: datetime) -> set[str]:
        """Close the open ones among `check_ids`; the ids this call closed (first close wins)."""
        closed: set[str] = set()
        for start in range(0, len(check_ids), _CHUNK):
            chunk = list(check_ids[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"UPDATE sent_checks SET ended = ?, ended_at = ? "
                f"WHERE check_id IN ({marks}) AND ended IS NULL RETURNING check_id",
                (ended, to_db(now), *chunk),
            ).fetchall()
            closed.update(r[0] for r in rows)
        return closed

    def link_sent_observations(self, observations: dict[str, int]) -> None:
        """Note the observation each recorded check stored."""
        self.conn.executemany(
            "UPDATE sent_checks SET observation = ? WHERE check_id = ?",
            [(obs, check_id) for check_id, obs in observations.items()],
        )

    def open_sent_senders(self) -> list[str]:
        """Coordinators with checks still open."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT sent_by FROM sent_checks WHERE ended IS NULL"
            )
        ]

    def abandon_sent_checks(self, sent_by: str, now: datetime) -> int:
        """Give up the open checks of a coordinator (it stopped or died); how many."""
        cur = self.conn.execute(
            "UPDATE sent_checks SET ended = ?, ended_at = ? WHERE sent_by = ? AND ended IS NULL",
            (ABANDONED, to_db(now), sent_by),
        )
        return cur.rowcount

    def sent_check_counts(self) -> dict[str, int]:
        """Sent checks by how they ended ("open" for those still out)."""
        rows = self.conn.execute(
            "SELECT COALESCE(ended, 'open'), COUNT(*) FROM sent_checks GROUP BY 1"
        )
        return {r[0]: r[1] for r in rows}
