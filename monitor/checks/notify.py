"""Alerts -> outbox rows -> apprise. One error type: `NotifyError(message, permanent)`.

    NotifyError
      permanent=True   the channel cannot work (URL not understood, no longer configured):
                       the delivery is abandoned at once
      permanent=False  anything else (receiver down, timeout): retried with backoff

The outbox row is written in the same transaction as the alert, *before* any
sending (`enqueue`). A sender claims a row with a conditional UPDATE, sends, then
marks it delivered, so a delivered message is never sent twice; the one window
is a crash between the send and the mark, after which the claim expires
(`CLAIM_S`) and the message goes out again.

Channel URLs carry credentials: rows hold a channel *key* ("operators#0",
"unit:<name>#0", "region:<name>#0"), resolved from the settings at send time,
and every error text is scrubbed of URLs before it is logged or stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol

from adapters.requests_guard import PeerJudge, guarding
from monitor.checks.alerts import (
    ACCOUNT_MISSING,
    BECAME_SUSPENDED,
    BECAME_WARNING,
    BECAME_ZOMBIE,
    CHECK_FAILING,
    SOURCE_DOWN,
    UNIT_KINDS,
    URL_REFUSED,
    AlertEvent,
)
from monitor.messages import render as render_message
from monitor.models import OUTCOME_LABELS, PLATFORM_LABELS, STATE_LABELS, Platform, State
from monitor.settings import Settings
from monitor.store import DeliveryRow, Store

log = logging.getLogger(__name__)

CLAIM_S = 300.0  # a claimed delivery not marked within this is due again (crash window)

KIND_LABELS = {
    BECAME_WARNING: "即将超期",
    BECAME_ZOMBIE: "僵尸账号",
    BECAME_SUSPENDED: "停运未注销",
    ACCOUNT_MISSING: "账号已不存在（名册仍为运行）",
    CHECK_FAILING: "采集失败",
    SOURCE_DOWN: "数据源故障",
    URL_REFUSED: "订阅地址被出站规则拒绝（配置问题）",
}


class NotifyError(Exception):
    """A message could not be delivered; `permanent` says whether retrying can help."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


# -- routes --------------------------------------------------------------------------


def operator_channels(settings: Settings) -> list[str]:
    return [f"operators#{i}" for i in range(len(settings.notify.operators))]


def unit_channels(settings: Settings, unit: str, region: str) -> list[str]:
    """The unit's and its region's channels, else the operators' (unrouted units)."""
    keys = [f"unit:{unit}#{i}" for i in range(len(settings.notify.units.get(unit, [])))]
    keys += [f"region:{region}#{i}" for i in range(len(settings.notify.regions.get(region, [])))]
    return keys or operator_channels(settings)


def channels_for(settings: Settings, event: AlertEvent) -> list[str]:
    """Where an alert event goes: unit alerts to the unit's routes, the rest to operators."""
    if event.for_unit and event.account is not None:
        return unit_channels(settings, event.account.unit, event.account.region)
    return operator_channels(settings)


def resolve(settings: Settings, key: str) -> str | None:
    """The apprise URL behind a channel key, from the settings in force now."""
    name, sep, index = key.rpartition("#")
    if not sep or not index.isdigit():
        return None
    if name == "operators":
        urls = settings.notify.operators
    elif name.startswith("unit:"):
        urls = settings.notify.units.get(name[5:], [])
    elif name.startswith("region:"):
        urls = settings.notify.regions.get(name[7:], [])
    else:
        return None
    i = int(index)
    return urls[i] if i < len(urls) else None


def all_urls(settings: Settings) -> list[str]:
    urls = list(settings.notify.operators)
    for group in (settings.notify.units, settings.notify.regions):
        for values in group.values():
            urls.extend(values)
    return urls


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """The text without URLs or the given secrets (channel URLs carry credentials)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, "<channel>")
    return _URL.sub("<url>", text)


# -- messages (Chinese) ----------------------------------------------------------------


def _platform_label(value: str | None) -> str:
    try:
        return PLATFORM_LABELS[Platform(value or "")]
    except ValueError:
        return value or ""


def _close_reason(reason: str | None) -> str:
    """Why an alert closed, in Chinese: the new state ("zombie"), or "now <kind>"."""
    text = reason or ""
    if text.startswith("now "):
        return "已转为" + KIND_LABELS.get(text[4:], text[4:])
    try:
        return "当前" + STATE_LABELS[State(text)]
    except ValueError:
        return text


def render(event: AlertEvent) -> tuple[str, str]:
    """The title and body of the message about one alert event."""
    ev = event.evidence
    if event.kind == SOURCE_DOWN:
        if event.event == "closed":
            return f"【已恢复】数据源 {event.source}", f"数据源 {event.source} 已恢复正常。"
        outcomes = "，".join(
            f"{OUTCOME_LABELS.get(k, k)} {v}" for k, v in sorted(ev.get("by_outcome", {}).items())
        )
        body = (
            f"数据源：{event.source}\n"
            f"本轮检测：{ev.get('checked')} 个账号，失败 {ev.get('failed')} 个"
            + (f"（{outcomes}）" if outcomes else "")
            + "\n这是数据源故障（接口、桥接或 Cookie），不是账号停更。"
        )
        return f"【数据源故障】{event.source}", body
    a = event.account
    assert a is not None, "account alerts carry their account"
    head = f"{a.unit} · {a.name}"
    account_line = f"账号：{a.name}（{a.platform.label} {a.account_id}）".replace(" ）", "）")
    if event.event == "closed":
        label = KIND_LABELS.get(event.kind, event.kind)
        why = (
            "已恢复正常"
            if event.reason == "recovered"
            else f"已关闭（{_close_reason(event.reason)}）"
        )
        body = f"主办单位：{a.unit}\n地区：{a.region}\n{account_line}\n{label}提醒{why}。"
        return f"【已恢复】{head}", body
    if event.kind == CHECK_FAILING:
        outcome = ev.get("last_outcome") or ""
        body = (
            f"主办单位：{a.unit}\n地区：{a.region}\n{account_line}\n"
            f"连续失败：{ev.get('failures')} 次（{OUTCOME_LABELS.get(outcome, outcome)}）\n"
            f"最后成功：{ev.get('last_success_at') or '从未成功'}\n"
            f"详情：{render_message(ev.get('detail_code'), ev.get('detail_params'), 'zh', ev.get('detail')) or '—'}\n"
            "采集失败不代表账号停更，请检查数据源。"
        )
        return f"【采集失败】{head}", body
    if event.kind == URL_REFUSED:
        body = (
            f"主办单位：{a.unit}\n地区：{a.region}\n{account_line}\n"
            f"地址：{ev.get('url') or '—'}\n"
            f"原因：{render_message(ev.get('detail_code'), ev.get('detail_params'), 'zh', ev.get('detail')) or '—'}\n"
            "这是名册或网络配置问题（地址指向内网或被出站规则拒绝），不是账号停更；"
            "请核对地址，或在 network.allowed_networks 中放行该网段。"
        )
        return f"【配置问题】{head}", body
    label = ev.get("state_label") or KIND_LABELS.get(event.kind, event.kind)
    if event.kind == ACCOUNT_MISSING:
        label = KIND_LABELS[ACCOUNT_MISSING]
    return f"【{label}】{head}", _account_body(a.unit, a.region, account_line, label, ev)


def _account_body(unit: str, region: str, account_line: str, label: str, ev: dict) -> str:
    if ev.get("no_content"):
        latest = "无内容（从未发布）"
    else:
        latest = ev.get("latest_post_date") or (
            f"{ev['silent_since']} 之前" if ev.get("silent_since") else "—"
        )
    days = ev.get("days_silent")
    lines = [
        f"主办单位：{unit}",
        f"地区：{region}",
        account_line,
        f"状态：{label}",
        f"最后更新：{latest}",
        f"已停更：{days} 天" if days is not None else "已停更：—",
        f"证据：{ev.get('url') or '—'}" + (f"（{ev['title']}）" if ev.get("title") else ""),
        f"检测时间：{(ev.get('observed_at') or '—')[:16].replace('T', ' ')}",
    ]
    if ev.get("reason"):
        why = render_message(ev.get("reason_code"), ev.get("reason_params"), "zh", ev["reason"])
        lines.append(f"说明：{why}")
    return "\n".join(lines)


def render_digest(unit: str, alerts: list[dict[str, Any]], day: str) -> tuple[str, str]:
    """One message listing all of a unit's open problems."""
    lines = [f"{unit} {day} 共有 {len(alerts)} 个账号存在问题：", ""]
    for al in alerts:
        ev = al["evidence"]
        label = ev.get("state_label") or KIND_LABELS.get(al["kind"], al["kind"])
        if al["kind"] == ACCOUNT_MISSING:
            label = KIND_LABELS[ACCOUNT_MISSING]
        latest = "无内容" if ev.get("no_content") else (ev.get("latest_post_date") or "—")
        days = ev.get("days_silent")
        lines.append(
            f"- {al['name']}（{_platform_label(al['platform'])}）：{label}，最后更新 {latest}"
            + (f"，已停更 {days} 天" if days is not None else "")
            + (f"，证据 {ev['url']}" if ev.get("url") else "")
        )
    return f"【每日汇总】{unit}：{len(alerts)} 个账号存在问题", "\n".join(lines)


# -- the outbox ----------------------------------------------------------------------


def enqueue(store: Store, settings: Settings, events: Iterable[AlertEvent], now: datetime) -> int:
    """Write the outbox rows for alert events (call inside the alert's transaction)."""
    written = 0
    for event in events:
        if event.for_unit and settings.notify.digest:
            continue  # the daily digest carries unit alerts
        title, body = render(event)
        unit = event.account.unit_id if event.account else None
        for channel in channels_for(settings, event):
            written += store.enqueue_delivery(
                event=f"alert:{event.alert}:{event.event}",
                channel=channel,
                title=title,
                body=body,
                now=now,
                alert=event.alert,
                unit=unit,
            )
    return written


def enqueue_digests(store: Store, settings: Settings, now: datetime, tz: tzinfo) -> int:
    """One digest per unit with open unit alerts, once per day (the event key says so)."""
    day = now.astimezone(tz).date().isoformat()
    by_unit: dict[int, list[dict[str, Any]]] = {}
    for al in store.alert_listing(now, open_only=True):
        if al["kind"] in UNIT_KINDS and al["unit_id"] is not None:
            by_unit.setdefault(al["unit_id"], []).append(al)
    written = 0
    with store.transaction():
        for unit_id, items in by_unit.items():
            items.sort(key=lambda al: (al["region"] or "", al["name"] or ""))
            unit, region = items[0]["unit"], items[0]["region"] or ""
            title, body = render_digest(unit, items, day)
            for channel in unit_channels(settings, unit, region):
                written += store.enqueue_delivery(
                    event=f"digest:{unit_id}:{day}",
                    channel=channel,
                    title=title,
                    body=body,
                    now=now,
                    unit=unit_id,
                )
    return written


# -- sending ---------------------------------------------------------------------------


class Sender(Protocol):
    def send(self, url: str, title: str, body: str) -> None:
        """Deliver one message to one apprise URL, or raise NotifyError."""
        ...


class AppriseSender:
    """Sends through apprise, turning its False into a NotifyError with the logged reason.

    With `judge` (the outbound policy's `peer_reason`), every connection apprise opens
    has its peer judged at connect time; a refused address is a permanent error (a
    configuration problem: retrying cannot help).
    """

    def __init__(self, timeout_s: float = 30.0, judge: PeerJudge | None = None):
        self.timeout_s = timeout_s
        self.judge = judge

    def send(self, url: str, title: str, body: str) -> None:
        import apprise

        ap = apprise.Apprise()
        if not ap.add(url):
            raise NotifyError("channel URL not understood by apprise", permanent=True)
        guard = guarding(self.judge) if self.judge is not None else contextlib.nullcontext([])
        capture = apprise.LogCapture(level=logging.WARNING)
        with guard as refusals, capture as captured:  # type: ignore[attr-defined]
            result = ap.notify(body=body, title=title)
        if refusals:
            raise NotifyError(scrub(refusals[0], [url]), permanent=True)
        if result:
            return
        logs = getattr(result, "logs", None)
        if callable(logs):
            reason = "; ".join(str(getattr(e, "message", e)) for e in logs())
        else:
            reason = " ".join(captured.getvalue().split())
        raise NotifyError(scrub(reason or "apprise reported a failure", [url]))


@dataclass(slots=True)
class DeliverySummary:
    """What one pass over the outbox did."""

    delivered: int = 0
    failed: int = 0
    abandoned: int = 0
    errors: list[str] = field(default_factory=list)


def next_attempt(settings: Settings, attempts: int, now: datetime) -> datetime | None:
    """When to retry after `attempts` failed tries; None once max_attempts is reached."""
    if attempts >= settings.notify.max_attempts:
        return None
    delays = settings.notify.retry_delays_min or [5.0]
    minutes = delays[min(attempts, len(delays)) - 1]
    return now + timedelta(minutes=minutes)


async def deliver_due(
    store: Store,
    settings: Settings,
    sender: Sender,
    now: datetime,
    *,
    limit: int = 100,
    stopping: Any = None,
) -> DeliverySummary:
    """Send due outbox rows one by one: claim, send (in a thread), mark."""
    summary = DeliverySummary()
    secrets = all_urls(settings)
    for row in store.due_deliveries(now, limit=limit):
        if stopping is not None and stopping():
            break
        if not store.claim_delivery(row.id, now, now + timedelta(seconds=CLAIM_S)):
            continue  # someone else took it
        attempts = row.attempts + 1
        try:
            url = resolve(settings, row.channel)
            if url is None:
                raise NotifyError(f"channel {row.channel} is no longer configured", permanent=True)
            await asyncio.to_thread(sender.send, url, row.title, row.body)
        except NotifyError as exc:
            message = scrub(exc.message, secrets)[:500]
            retry = None if exc.permanent else next_attempt(settings, attempts, now)
            store.mark_delivery_failed(row.id, now, message, retry)
            _log_failure(row, attempts, exc.permanent, retry, message)
            summary.errors.append(message)
            if retry is None:
                summary.abandoned += 1
            else:
                summary.failed += 1
            continue
        except Exception as exc:  # a sender bug must not lose the row: retry later
            message = scrub(f"{type(exc).__name__}: {exc}", secrets)[:500]
            retry = next_attempt(settings, attempts, now)
            store.mark_delivery_failed(row.id, now, message, retry)
            _log_failure(row, attempts, False, retry, message)
            summary.failed += 1
            continue
        store.mark_delivered(row.id, now)
        summary.delivered += 1
    return summary


def _log_failure(
    row: DeliveryRow, attempts: int, permanent: bool, retry: datetime | None, message: str
) -> None:
    log.warning(
        "delivery_failed %s",
        json.dumps(
            {
                "event": "delivery_failed",
                "delivery": row.id,
                "alert": row.alert,
                "channel": row.channel,
                "attempt": attempts,
                "permanent": permanent,
                "next_attempt_at": retry.isoformat() if retry else None,
                "error": message,
            },
            ensure_ascii=False,
        ),
    )
