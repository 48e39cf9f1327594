"""Alerts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.dates import from_db, to_db
from monitor.store.base import StoreBase
from monitor.store.sql import _id_list


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


class AlertTables(StoreBase):
    """Alerts for units and operators, one open per (account, kind) and (kind, source)."""

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
