"""Source health (backoff) and heartbeats."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.dates import from_db, to_db
from monitor.store.base import StoreBase


@dataclass(slots=True)
class SourceHealth:
    """A source's run of rate-limited/blocked answers (distinct accounts) and its backoff."""

    source: str
    streak: list[int] = field(default_factory=list)
    level: int = 0
    paused_until: datetime | None = None
    last_outcome: str | None = None


class HealthTables(StoreBase):
    """Source health (backoff), heartbeats, and counts for /healthz and /metrics."""

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
