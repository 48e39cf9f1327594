"""Website verdicts -> alerts per sponsoring unit, as accounts' verdicts do.

A website has at most one open `site_failed` alert (the store's partial unique index
on (kind, source), with source `site:<网站标识码>`): opened when its verdict becomes
不合格, closed when it is 合格 or 存在问题 again. 未检测 changes nothing (a site that
could not be read says nothing about its updates). Each opening and closing writes
outbox rows for the unit's and region's channels (else the operators'), in the same
transaction, so a message is never lost or sent twice; the daemon's deliver job sends
them. Unlike accounts' unit alerts, they are not held for the daily digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from monitor.checks.notify import unit_channels
from monitor.checks.sites import SiteStatus
from monitor.models import SiteVerdict
from monitor.settings import Settings
from monitor.store import Store

SITE_FAILED = "site_failed"
BASIS = "依据：国办秘函〔2019〕19号《政府网站与政务新媒体检查指标》"


def site_source(site_code: str) -> str:
    """The alert's `source`: one open alert per website."""
    return f"site:{site_code}"


def _evidence(status: SiteStatus, as_of: str) -> dict[str, Any]:
    site, judgement = status.site, status.judgement
    return {
        "site_code": site.site_code,
        "name": site.name,
        "url": site.url,
        "region": site.region,
        "unit": site.unit,
        "summary": judgement.summary,
        "problems": {p.kind: p.count for p in judgement.problems},
        "as_of": as_of,
    }


def render_site_alert(evidence: dict[str, Any], event: str) -> tuple[str, str]:
    """The title and body of the message about a website's alert opening or closing."""
    head = f"{evidence.get('unit')} · {evidence.get('name')}"
    lines = [
        f"主办单位：{evidence.get('unit')}",
        f"地区：{evidence.get('region')}",
        f"网站：{evidence.get('name')}（网站标识码 {evidence.get('site_code')}）",
        f"网址：{evidence.get('url')}",
        f"检查日期：{evidence.get('as_of')}",
    ]
    if event == "closed":
        lines.append(f"网站已不再不合格（当前：{evidence.get('summary') or '合格'}）。")
        return f"【已恢复】{head}", "\n".join(lines)
    lines += [f"主要问题：{evidence.get('summary')}", BASIS]
    return f"【网站不合格】{head}", "\n".join(lines)


def follow_site_verdicts(
    store: Store, settings: Settings, statuses: Sequence[SiteStatus], now: datetime
) -> dict[str, int]:
    """Open and close `site_failed` alerts to follow the websites' verdicts; counts."""
    counts = {"opened": 0, "closed": 0}
    as_of = now.astimezone(settings.tz).date().isoformat()
    with store.transaction():
        open_by_source = {
            a.source: a for a in store.open_alerts(kinds=[SITE_FAILED]) if a.source is not None
        }
        for status in statuses:
            site, verdict = status.site, status.judgement.verdict
            source = site_source(site.site_code)
            evidence = _evidence(status, as_of)
            current = open_by_source.get(source)
            if verdict is SiteVerdict.FAIL and current is None:
                alert = store.open_alert(
                    kind=SITE_FAILED, now=now, unit=site.unit_id, source=source, evidence=evidence
                )
                if alert is not None:
                    counts["opened"] += 1
                    _enqueue(store, settings, alert, "opened", evidence, site.unit_id, now)
            elif (
                verdict in (SiteVerdict.PASS, SiteVerdict.ISSUES)
                and current is not None
                and store.close_alert(current.id, now, f"now {verdict.value}")
            ):
                counts["closed"] += 1
                _enqueue(store, settings, current.id, "closed", evidence, site.unit_id, now)
    return counts


def _enqueue(
    store: Store,
    settings: Settings,
    alert: int,
    event: str,
    evidence: dict[str, Any],
    unit: int,
    now: datetime,
) -> None:
    title, body = render_site_alert(evidence, event)
    for channel in unit_channels(settings, str(evidence["unit"]), str(evidence["region"])):
        store.enqueue_delivery(
            event=f"alert:{alert}:{event}",
            channel=channel,
            title=title,
            body=body,
            now=now,
            alert=alert,
            unit=unit,
        )
