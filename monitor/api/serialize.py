"""JSON shapes of observations, alerts and verdict evidence (times in the configured zone)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from monitor.dates import iso
from monitor.messages import detail_text
from monitor.models import Evidence, Observation


def observation_record(o: Observation, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": o.id,
        "observed_at": iso(o.observed_at, tz),
        "source": o.source,
        "outcome": o.outcome.value,
        "is_evidence": o.is_evidence,
        "latest_post_at": iso(o.latest_post_at, tz),
        "post_id": o.post_id,
        "post_url": o.post_url,
        "post_title": o.post_title,
        "detail": o.detail,
        "detail_code": o.detail_code,
        "detail_params": o.detail_params,
        "detail_label": detail_text(o, "zh"),
        "silent_since": o.silent_since.isoformat() if o.silent_since else None,
        "profile": o.profile,
    }


def evidence_record(ev: Evidence | None, tz: tzinfo) -> dict[str, Any] | None:
    if ev is None:
        return None
    return {
        "observation_id": ev.observation_id,
        "observed_at": iso(ev.observed_at, tz),
        "source": ev.source,
        "outcome": ev.outcome.value,
        "url": ev.url,
        "title": ev.title,
    }


def alert_record(row: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """An `alert_listing` row with its times as ISO strings (and `evidence_url`, as the CLI)."""
    out = {k: iso(v, tz) if isinstance(v, datetime) else v for k, v in row.items()}
    out["evidence_url"] = safe_url((row.get("evidence") or {}).get("url"))
    return out


def safe_url(url: str | None) -> str | None:
    """The URL when it is http(s), else None: stored links must never become javascript:."""
    if url and url.strip().lower().startswith(("http://", "https://")):
        return url.strip()
    return None
