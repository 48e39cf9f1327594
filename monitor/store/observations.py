"""Observations and the adapters' saved state."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from monitor.dates import from_db, to_db, utcnow
from monitor.links import http_link
from monitor.models import (
    Observation,
)
from monitor.store.base import StoreBase
from monitor.store.sql import _OUTCOMES, _id_list


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


# The columns `_observation_row` fills, in its order.
_INSERT_NAMES = (
    "account", "observed_at", "source", "outcome", "evidence", "latest_post_at", "post_id",
    "post_url", "post_title", "detail", "silent_since", "profile", "retry_after", "recorded_at",
    "detail_code", "detail_params",
)  # fmt: skip


_INSERT_SQL = (
    f"INSERT INTO observations ({', '.join(_INSERT_NAMES)}) "
    f"VALUES ({', '.join('?' * len(_INSERT_NAMES))})"
)


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


class ObservationTables(StoreBase):
    """Observations (checks and manual looks) and the adapters' saved state."""

    # -- observations ----------------------------------------------------------

    def add_observation(self, obs: Observation) -> int:
        """Store one observation; its id."""
        # Plain SQL: one row per check on the hot path, its statement compiled once.
        cur = self.conn.execute(_INSERT_SQL, _observation_row(obs))
        return int(cur.lastrowid or 0)

    def add_observations(self, observations: Iterable[Observation]) -> int:
        """Store many observations in one transaction; how many."""
        rows = [dict(zip(_INSERT_NAMES, _observation_row(o), strict=True)) for o in observations]
        with self.transaction():
            self.db["observations"].insert_all(rows)  # type: ignore[union-attr]
        return len(rows)

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
