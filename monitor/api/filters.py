"""Jinja2 filters for the dashboard: Chinese labels, local times, state colours, safe links."""

from __future__ import annotations

from datetime import datetime

import jinja2

from monitor import favicon
from monitor.models import OUTCOME_LABELS, PLATFORM_LABELS, STATE_LABELS, Platform, State
from monitor.records import safe_url

ALERT_KINDS = {
    "became_warning": "即将超期",
    "became_zombie": "成为僵尸账号",
    "became_suspended": "停运未注销",
    "account_missing": "账号已不存在",
    "check_failing": "连续采集失败",
    "source_down": "数据源故障",
    "url_refused": "地址被拒绝（配置问题）",
    "site_failed": "网站不合格",
}


def _source_labels() -> dict[str, str]:
    from adapters import manifests

    return {**{name: m.label for name, m in manifests().items()}, "manual": "人工核查"}


SOURCE_LABELS = _source_labels()


def outcome_class(value: str) -> str:
    """The CSS class of a check's outcome: a post, the platform's bad news, or a failed check."""
    return f"o-{value}" if value in ("ok", "no_content", "not_found", "restricted") else "o-failed"


def platform_label(value: str) -> str:
    try:
        return PLATFORM_LABELS[Platform(value)]
    except ValueError:
        return value


def state_label(value: str) -> str:
    try:
        return STATE_LABELS[State(value)]
    except ValueError:
        return value


def local_time(value: str | datetime | None, width: int = 16) -> str:
    """ "YYYY-MM-DD HH:MM" of an ISO text (already in the configured zone) or datetime."""
    if value is None or value == "":
        return "—"
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return text.replace("T", " ")[:width]


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def install(env: jinja2.Environment) -> None:
    env.filters.update(
        platform=platform_label,
        state=state_label,
        outcome=lambda v: OUTCOME_LABELS.get(v, v),
        outcome_class=outcome_class,
        alert_kind=lambda v: ALERT_KINDS.get(v, v),
        source=lambda v: SOURCE_LABELS.get(v, v),
        time=local_time,
        percent=percent,
        safe_url=safe_url,
    )
    env.globals.update(
        STATES=[s.value for s in State],
        PLATFORMS=[p.value for p in Platform],
        FAVICON=favicon.DATA_URI,
    )
