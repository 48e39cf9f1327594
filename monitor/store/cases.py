"""Notices (通报) with their frozen files, rectification cases (整改) and their events.

A notice freezes a month's report: its files are stored as bytes and never
rewritten. Each account the notice names gets one case; a case's status moves
by conditional UPDATEs (a closed case stays closed whoever writes next):

    open --response--> responded --decision accept--> accepted
      ^                    |------decision reject---> open
      +--- re-check at the deadline ---> rectified | not_rectified
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from monitor.dates import from_db, to_db
from monitor.store.base import StoreBase
from monitor.store.sql import _id_list

OPEN = "open"
RESPONDED = "responded"
RECTIFIED = "rectified"
NOT_RECTIFIED = "not_rectified"
ACCEPTED = "accepted"
CASE_STATUSES = (OPEN, RESPONDED, RECTIFIED, NOT_RECTIFIED, ACCEPTED)
LIVE_STATUSES = (OPEN, RESPONDED)


@dataclass(frozen=True, slots=True)
class NoticeRow:
    """An issued notice: the month it names, the as-of date it judged at, its deadline."""

    id: int
    month: str
    as_of: date
    deadline: date
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class NoticeFile:
    """One frozen file of a notice, byte-for-byte as issued."""

    format: str
    filename: str
    sha256: str
    data: bytes


@dataclass(slots=True)
class CaseRow:
    """One case with the account's roster fields as the notice named it."""

    id: int
    notice: int
    month: str
    notice_as_of: date
    account: int
    platform: str
    account_id: str
    name: str
    unit_id: int
    unit: str
    region: str
    problems: list[str]
    opened_at: datetime
    deadline: date
    status: str
    response: str | None
    response_note: str | None
    responded_at: datetime | None
    decision: str | None
    decision_note: str | None
    decided_at: datetime | None
    reviewed_at: datetime | None
    closed_at: datetime | None
    reminded_at: datetime | None
    evidence: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CaseEvent:
    id: int
    case: int
    at: datetime
    kind: str
    detail: dict[str, Any]


def _notice(r: Sequence[Any]) -> NoticeRow:
    issued = from_db(r[4])
    assert issued is not None
    return NoticeRow(r[0], r[1], date.fromisoformat(r[2]), date.fromisoformat(r[3]), issued)


_CASE_SQL = """
    SELECT c.id, c.notice, n.month, n.as_of, c.account, a.platform, a.account_id,
           COALESCE(v.name, ''), c.unit, u.name, c.region, c.problems, c.opened_at,
           c.deadline, c.status, c.response, c.response_note, c.responded_at, c.decision,
           c.decision_note, c.decided_at, c.reviewed_at, c.closed_at, c.reminded_at,
           c.evidence
    FROM cases c
    JOIN notices n ON n.id = c.notice
    JOIN accounts a ON a.id = c.account
    JOIN units u ON u.id = c.unit
    LEFT JOIN account_versions v ON v.id = (
        SELECT vv.id FROM account_versions vv
        WHERE vv.account = c.account AND vv.valid_from <= c.opened_at
        ORDER BY vv.valid_from DESC, vv.id DESC LIMIT 1)
"""


def _case(r: Sequence[Any]) -> CaseRow:
    opened = from_db(r[12])
    assert opened is not None
    return CaseRow(
        id=r[0],
        notice=r[1],
        month=r[2],
        notice_as_of=date.fromisoformat(r[3]),
        account=r[4],
        platform=r[5],
        account_id=r[6],
        name=r[7],
        unit_id=r[8],
        unit=r[9],
        region=r[10],
        problems=json.loads(r[11]),
        opened_at=opened,
        deadline=date.fromisoformat(r[13]),
        status=r[14],
        response=r[15],
        response_note=r[16],
        responded_at=from_db(r[17]),
        decision=r[18],
        decision_note=r[19],
        decided_at=from_db(r[20]),
        reviewed_at=from_db(r[21]),
        closed_at=from_db(r[22]),
        reminded_at=from_db(r[23]),
        evidence=json.loads(r[24]) if r[24] else {},
    )


def _json(value: dict[str, Any] | None) -> str:
    return json.dumps(value or {}, ensure_ascii=False, sort_keys=True, default=str)


class CaseTables(StoreBase):
    """Notices, their frozen files, cases and case events."""

    # -- notices -----------------------------------------------------------------

    def add_notice(
        self,
        *,
        month: str,
        as_of: date,
        deadline: date,
        now: datetime,
        files: Iterable[NoticeFile],
    ) -> int:
        """Store an issued notice and its files (call inside a transaction); its id."""
        cur = self.conn.execute(
            "INSERT INTO notices (month, as_of, deadline, issued_at) VALUES (?, ?, ?, ?)",
            (month, as_of.isoformat(), deadline.isoformat(), to_db(now)),
        )
        notice = int(cur.lastrowid or 0)
        self.conn.executemany(
            "INSERT INTO notice_files (notice, format, filename, sha256, data) "
            "VALUES (?, ?, ?, ?, ?)",
            [(notice, f.format, f.filename, f.sha256, f.data) for f in files],
        )
        return notice

    def notice(self, notice: int) -> NoticeRow | None:
        row = self.conn.execute(
            "SELECT id, month, as_of, deadline, issued_at FROM notices WHERE id = ?", (notice,)
        ).fetchone()
        return _notice(row) if row else None

    def notice_by_month(self, month: str) -> NoticeRow | None:
        row = self.conn.execute(
            "SELECT id, month, as_of, deadline, issued_at FROM notices WHERE month = ?", (month,)
        ).fetchone()
        return _notice(row) if row else None

    def notices(self) -> list[NoticeRow]:
        """Every issued notice, oldest month first."""
        rows = self.conn.execute(
            "SELECT id, month, as_of, deadline, issued_at FROM notices ORDER BY month"
        )
        return [_notice(r) for r in rows]

    def notice_files(self, notice: int) -> list[NoticeFile]:
        rows = self.conn.execute(
            "SELECT format, filename, sha256, data FROM notice_files WHERE notice = ? "
            "ORDER BY format",
            (notice,),
        )
        return [NoticeFile(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def notice_accounts(self, months: Collection[str]) -> dict[str, set[int]]:
        """The accounts each of these notices named, by month (months without a notice absent)."""
        if not months:
            return {}
        marks = ",".join("?" for _ in months)
        out: dict[str, set[int]] = {}
        rows = self.conn.execute(
            f"SELECT n.month, c.account FROM cases c JOIN notices n ON n.id = c.notice "
            f"WHERE n.month IN ({marks})",
            list(months),
        )
        for month, account in rows:
            out.setdefault(month, set()).add(account)
        return out

    # -- cases ---------------------------------------------------------------------

    def open_case(
        self,
        *,
        notice: int,
        account: int,
        unit: int,
        region: str,
        problems: Sequence[str],
        now: datetime,
        deadline: date,
    ) -> int | None:
        """Open a case for an account a notice names; None when that notice has one already."""
        cur = self.conn.execute(
            "INSERT INTO cases (notice, account, unit, region, problems, opened_at, deadline) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                notice,
                account,
                unit,
                region,
                json.dumps(list(problems), ensure_ascii=False),
                to_db(now),
                deadline.isoformat(),
            ),
        )
        return int(cur.lastrowid) if cur.rowcount == 1 and cur.lastrowid else None

    def add_case_event(
        self, case: int, now: datetime, kind: str, detail: dict[str, Any] | None = None
    ) -> None:
        self.conn.execute(
            "INSERT INTO case_events (case_id, at, kind, detail) VALUES (?, ?, ?, ?)",
            (case, to_db(now), kind, _json(detail)),
        )

    def case_events(self, case: int) -> list[CaseEvent]:
        rows = self.conn.execute(
            "SELECT id, case_id, at, kind, detail FROM case_events WHERE case_id = ? ORDER BY id",
            (case,),
        )
        out = []
        for r in rows:
            at = from_db(r[2])
            assert at is not None
            out.append(CaseEvent(r[0], r[1], at, r[3], json.loads(r[4])))
        return out

    def case(self, case: int) -> CaseRow | None:
        row = self.conn.execute(f"{_CASE_SQL} WHERE c.id = ?", (case,)).fetchone()
        return _case(row) if row else None

    def cases(
        self,
        *,
        statuses: Collection[str] | None = None,
        units: Collection[str] | None = None,
        notice: int | None = None,
        ids: Sequence[int] | None = None,
        due_by: date | None = None,
    ) -> list[CaseRow]:
        """Cases, newest notice first then roster order; `units` are unit names (a scope)."""
        where: list[str] = []
        params: list[Any] = []
        if statuses is not None:
            where.append(f"c.status IN ({','.join('?' for _ in statuses)})")
            params.extend(statuses)
            if not statuses:
                return []
        if units is not None:
            if not units:
                return []
            where.append(f"u.name IN ({','.join('?' for _ in units)})")
            params.extend(units)
        if notice is not None:
            where.append("c.notice = ?")
            params.append(notice)
        if ids is not None:
            if not ids:
                return []
            where.append(f"c.id IN ({_id_list(ids)})")
        if due_by is not None:
            where.append("c.deadline <= ?")
            params.append(due_by.isoformat())
        sql = (
            _CASE_SQL
            + ("WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY n.month DESC, a.roster_order, c.id"
        )
        return [_case(r) for r in self.conn.execute(sql, params)]

    def respond_case(self, case: int, action: str, note: str, now: datetime) -> bool:
        """Record a unit's response to a live case (a later one replaces it); False if closed."""
        cur = self.conn.execute(
            "UPDATE cases SET status = ?, response = ?, response_note = ?, responded_at = ?, "
            "decision = NULL, decision_note = NULL, decided_at = NULL "
            f"WHERE id = ? AND status IN ('{OPEN}', '{RESPONDED}')",
            (RESPONDED, action, note, to_db(now), case),
        )
        return cur.rowcount == 1

    def decide_case(self, case: int, decision: str, note: str, now: datetime) -> bool:
        """The office's decision on a responded explanation: accept closes, reject reopens."""
        accept = decision == "accept"
        cur = self.conn.execute(
            "UPDATE cases SET status = ?, decision = ?, decision_note = ?, decided_at = ?, "
            "closed_at = ? "
            f"WHERE id = ? AND status = '{RESPONDED}' AND response = 'explained'",
            (
                ACCEPTED if accept else OPEN,
                decision,
                note,
                to_db(now),
                to_db(now) if accept else None,
                case,
            ),
        )
        return cur.rowcount == 1

    def close_case(self, case: int, status: str, evidence: dict[str, Any], now: datetime) -> bool:
        """Close a live case after its re-check, keeping the evidence it was decided on."""
        cur = self.conn.execute(
            "UPDATE cases SET status = ?, evidence = ?, reviewed_at = ?, closed_at = ? "
            f"WHERE id = ? AND status IN ('{OPEN}', '{RESPONDED}')",
            (status, _json(evidence), to_db(now), to_db(now), case),
        )
        return cur.rowcount == 1

    def mark_reminded(self, case: int, now: datetime) -> bool:
        """Claim a case's reminder (conditional: each case is reminded once)."""
        cur = self.conn.execute(
            "UPDATE cases SET reminded_at = ? WHERE id = ? AND reminded_at IS NULL",
            (to_db(now), case),
        )
        return cur.rowcount == 1
