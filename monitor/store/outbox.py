"""The outbox of notifications."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.dates import from_db, to_db
from monitor.store.base import StoreBase


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


class OutboxTables(StoreBase):
    """The outbox: one delivery per message and channel, written before sending."""

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
