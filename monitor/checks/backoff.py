"""Backoff: a run of refusals from one source (or one feed host) pauses it. Pure functions.

A run counts distinct accounts answered `rate_limited` or `blocked` in a row; at
`schedule.source_backoff_after` of them the key pauses for a doubling time (capped,
and never shorter than a Retry-After), and the run starts again. Any other platform
answer ends the run; evidence resets the level. A `refused` check is our own outbound
guard, not the platform's answer: it changes nothing here.

What a run is about decides its key: Weibo and WeChat are one service each; feeds
come from many hosts (RSSHub on the LAN, wechat2rss, a site's own feed), so one
host refusing pauses that host only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from adapters import manifests
from monitor.models import AccountView, Outcome
from monitor.settings import Settings
from monitor.store import SourceHealth

BACKOFF_OUTCOMES = frozenset({Outcome.RATE_LIMITED, Outcome.BLOCKED})
MAX_PAUSE_FLOOR = timedelta(days=1)  # the longest Retry-After honoured


@dataclass(frozen=True, slots=True)
class Step:
    """What one answer did: the new health, whether it changed, and a pause it started."""

    health: SourceHealth
    changed: bool
    pause: timedelta | None = None


def health_key(source: str, account: AccountView) -> str:
    """The key a source's answers about `account` count under: feeds by host."""
    manifest = manifests().get(source)
    if manifest is None or manifest.backoff_by != "host":
        return source
    try:
        parts = urlsplit(account.feed_url.strip())
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return f"{source}:?"
    return f"{source}:{host}:{port}" if port else f"{source}:{host}"


def source_of_key(key: str) -> str:
    """The source a health key belongs to ("feed:rss.example" -> "feed")."""
    return key.partition(":")[0]


def pause_for(settings: Settings, level: int, retry_after: float | None) -> timedelta:
    """How long a key rests at backoff `level` (>= 1): doubling, capped, >= Retry-After."""
    sched = settings.schedule
    # 2**63 doublings are far past any ceiling; a larger power would not fit a float.
    doublings = min(max(level - 1, 0), 63)
    pause = timedelta(
        seconds=min(sched.source_backoff_base_s * 2**doublings, sched.source_backoff_max_s)
    )
    if retry_after:
        pause = max(pause, timedelta(seconds=min(retry_after, MAX_PAUSE_FLOOR.total_seconds())))
    return pause


def answer(
    health: SourceHealth,
    account: int,
    outcome: Outcome,
    retry_after: float | None,
    now: datetime,
    settings: Settings,
) -> Step:
    """The health after one answer of the platform about `account` (`health` is not changed)."""
    if not outcome.is_platform_answer:
        return Step(health, False)
    pause: timedelta | None = None
    if outcome in BACKOFF_OUTCOMES:
        streak = health.streak if account in health.streak else [*health.streak, account]
        new = replace(health, streak=streak, last_outcome=outcome.value)
        if len(streak) >= settings.schedule.source_backoff_after:
            level = health.level + 1
            pause = pause_for(settings, level, retry_after)
            new = replace(new, streak=[], level=level, paused_until=now + pause)
    else:
        new = replace(health, streak=[], level=0 if outcome.is_evidence else health.level)
    changed = (new.streak, new.level, new.paused_until) != (
        health.streak,
        health.level,
        health.paused_until,
    ) or (outcome in BACKOFF_OUTCOMES and health.last_outcome != outcome.value)
    return Step(new, changed, pause)
