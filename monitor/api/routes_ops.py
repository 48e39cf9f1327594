"""Operations endpoints: /healthz (JSON) and /metrics (Prometheus text)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from monitor.api.access import refuse_unit_users
from monitor.api.params import ctx_of, queries_of
from monitor.dates import iso

router = APIRouter(tags=["operations"])


def _daemon_heartbeat(request: Request) -> dict[str, Any] | None:
    """The daemon's last sweep heartbeat, or None when no daemon has ever run."""
    ctx = ctx_of(request)
    beat = ctx.store().heartbeat("daemon")
    if beat is None:
        return None
    at, detail = beat
    age = (ctx.now() - at).total_seconds()
    tick = ctx.settings.schedule.tick_s
    return {
        "at": iso(at, ctx.tz),
        "age_s": round(age, 1),
        # A sweep runs every tick; three missed ticks (at least 5 minutes) is stale.
        "stale": age > max(3 * tick, 300.0),
        "last_sweep": detail,
    }


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    """Database reachable, scheduler heartbeat age (null without a daemon), sources' health."""
    ctx, queries = ctx_of(request), queries_of(request)
    started = time.monotonic()
    try:
        migrations = ctx.store().applied_migrations()
    except Exception as exc:  # any database failure: report it, do not crash
        return JSONResponse(
            {"status": "error", "database": {"ok": False, "error": str(exc)}}, status_code=503
        )
    db_ms = round((time.monotonic() - started) * 1000, 2)
    sources = queries.source_health()
    heartbeat = _daemon_heartbeat(request)
    warnings = []
    if heartbeat is not None and heartbeat["stale"]:
        warnings.append(f"scheduler heartbeat is {heartbeat['age_s']:.0f} s old")
    for s in sources:
        if s["failed_share"] is not None and s["failed_share"] >= 0.5:
            warnings.append(f"source {s['source']}: {s['failed_share']:.0%} of checks failed")
    return JSONResponse(
        {
            "status": "degraded" if warnings else "ok",
            "database": {"ok": True, "latency_ms": db_ms, "migrations": len(migrations)},
            "scheduler": heartbeat,
            "sources": sources,
            "warnings": warnings,
            "checked_at": iso(ctx.now(), ctx.tz),
        }
    )


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Metrics:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]

    def sample(self, name: str, value: float | int, **labels: str) -> None:
        inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        self.lines.append(f"{name}{{{inner}}} {value}" if inner else f"{name} {value}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    """Checks by source and outcome (last day), accounts by state, sweep, outbox.

    Counts across every unit: not for unit users (403).
    """
    from monitor.models import State

    refuse_unit_users(request)
    ctx, queries = ctx_of(request), queries_of(request)
    m = _Metrics()
    m.family("monitor_checks_last_day", "gauge", "Checks observed in the last 24 h.")
    for source, counts in sorted(queries.source_outcomes().items()):
        for outcome, n in sorted(counts.items()):
            m.sample("monitor_checks_last_day", n, source=source, outcome=outcome)
    states = queries.state_counts(ctx.today()).states
    m.family("monitor_accounts", "gauge", "Accounts in the roster by verdict state today.")
    for state in State:
        m.sample("monitor_accounts", states.get(state.value, 0), state=state.value)
    beat = _daemon_heartbeat(request)
    if beat is not None:
        sweep = beat["last_sweep"] or {}
        m.family("monitor_sweep_duration_seconds", "gauge", "Duration of the last sweep.")
        m.sample("monitor_sweep_duration_seconds", float(sweep.get("duration_s", 0.0)))
        m.family("monitor_heartbeat_age_seconds", "gauge", "Seconds since the daemon's last sweep.")
        m.sample("monitor_heartbeat_age_seconds", beat["age_s"])
    deliveries = queries.delivery_counts()
    m.family("monitor_deliveries_pending", "gauge", "Notifications waiting to be delivered.")
    m.sample("monitor_deliveries_pending", deliveries["pending"])
    m.family("monitor_deliveries_failed", "gauge", "Notifications abandoned after retries.")
    m.sample("monitor_deliveries_failed", deliveries["failed"])
    open_alerts = Counter(a["kind"] for a in queries.alerts(open_only=True))
    m.family("monitor_alerts_open", "gauge", "Open alerts by kind.")
    for kind, n in sorted(open_alerts.items()):
        m.sample("monitor_alerts_open", n, kind=kind)
    return PlainTextResponse(m.text(), media_type="text/plain; version=0.0.4; charset=utf-8")
