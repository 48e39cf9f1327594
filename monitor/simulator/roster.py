"""write_roster: the long-form CSV roster a monitor imports to watch a simulated city."""

from __future__ import annotations

import csv
from pathlib import Path

from monitor.models import PLATFORM_LABELS, ROSTER_STATUS_LABELS, Platform, RosterStatus
from monitor.simulator.feeds import feed_path
from monitor.simulator.names import REGIONS
from monitor.simulator.ready import SECRET_ENV
from monitor.simulator.scenario import Scenario, SimAccount

ROSTER_COLUMNS: tuple[str, ...] = (
    "类别",
    "主办单位",
    "平台",
    "账号名称",
    "账号ID",
    "状态",
    "source",
    "feed_url",
    "appid",
    "secret_env",
)
_PLATFORM_ORDER = {"wechat": 0, "weibo": 1, "douyin": 2, "toutiao": 3, "bilibili": 4}


def roster_platform(account: SimAccount) -> str:
    """The roster's platform code: douyin/toutiao/bilibili for feeds that name one."""
    if account.platform == "feed":
        return account.platform_label or "feed"
    return account.platform


def _row(account: SimAccount, base_url: str, english: bool) -> list[str]:
    code = roster_platform(account)
    try:
        label = code if english else PLATFORM_LABELS[Platform(code)]
    except ValueError:
        label = code
    source = feed_url = appid = secret_env = ""
    if account.platform == "feed":
        source = "feed"
        feed_url = base_url + feed_path(account.account_id, account.format)
    elif account.platform == "wechat":
        appid = account.effective_appid
        secret_env = SECRET_ENV
    return [
        account.region,
        account.unit,
        label,
        account.name,
        account.account_id,
        ROSTER_STATUS_LABELS[RosterStatus.OPERATING],
        source,
        feed_url,
        appid,
        secret_env,
    ]


def write_roster(
    scenario: Scenario, path: str | Path, base_url: str, *, english_platforms: bool = False
) -> int:
    """Write the roster CSV (UTF-8 with BOM), grouped by region and unit; returns the row count."""
    base = base_url.rstrip("/")
    region_order = {r: i for i, r in enumerate(REGIONS)}
    accounts = sorted(
        scenario.accounts,
        key=lambda a: (
            region_order.get(a.region, len(region_order)),
            a.region,
            a.unit,
            _PLATFORM_ORDER.get(roster_platform(a), 9),
        ),
    )
    with Path(path).open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(ROSTER_COLUMNS)
        for acc in accounts:
            writer.writerow(_row(acc, base, english_platforms))
    return len(accounts)
