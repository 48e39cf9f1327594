"""What `monitor demo` prints: the sweep, the per-region summary, the problem table, next steps."""

from __future__ import annotations

import os
import sys
from collections import Counter
from typing import Any

from monitor.demo import DemoResult
from monitor.models import OUTCOME_LABELS, State

PROBLEM_STATES = (State.ZOMBIE, State.SUSPENDED)


def print_demo(console: Any, result: DemoResult) -> None:
    """Print the demo's outcome in the order a newcomer reads it."""
    from rich.table import Table

    outcomes = Counter(
        r.observation.outcome.value if r.observation else "no_source" for r in result.checks
    )
    console.print(f"\n检测 {len(result.checks)} 个账号，用时 {result.seconds:.1f} 秒。")
    # A table, not a line: a line of counts wraps with a separator left dangling.
    counts = Table(title="检测结果", title_justify="left")
    ordered = outcomes.most_common()
    for outcome, _ in ordered:
        counts.add_column(OUTCOME_LABELS.get(outcome, "无数据源"), justify="right")
    counts.add_row(*(str(n) for _, n in ordered))
    console.print(counts)
    console.print("采集失败（模拟的5xx、超时、登录墙、限流、损坏的响应）只记录，不作为判定证据：")
    console.print("这些账号显示为“采集失败”，绝不会因此被当作停更。")

    regions: dict[str, Counter[str]] = {}
    for item in result.verdicts:
        regions.setdefault(item.account.region, Counter())[item.verdict.state.value] += 1
    order = sorted(regions, key=lambda r: (r != "市直部门", _first_order(result, r)))
    table = Table(title="各地区检查结果", title_justify="left")
    for column in (
        "类别",
        "账号",
        "正常",
        "即将超期",
        "僵尸",
        "停运未注销",
        "已注销",
        "未检测",
        "合格率",
    ):
        table.add_column(column, justify="left" if column == "类别" else "right")
    for region in order:
        c = regions[region]
        judged = sum(c.values()) - c["unknown"]
        faults = c["zombie"] + c["suspended"]
        rate = f"{(judged - faults) / judged:.0%}" if judged else "-"
        table.add_row(
            region,
            str(sum(c.values())),
            *(
                str(c[s])
                for s in ("active", "warning", "zombie", "suspended", "cancelled", "unknown")
            ),
            rate,
        )
    console.print(table)

    problems = [v for v in result.verdicts if v.verdict.state in PROBLEM_STATES]
    detail = Table(title=f"问题账号（{len(problems)} 个）", title_justify="left")
    for column in ("类别", "主办单位", "平台", "账号", "最后更新时间", "问题类别"):
        detail.add_column(column)
    for item in problems[:40]:
        v, a = item.verdict, item.account
        if v.no_content:
            last = "无内容"
        elif v.latest_post_date:
            last = f"{v.latest_post_date.year}.{v.latest_post_date.month}.{v.latest_post_date.day}"
        elif v.silent_since:
            last = f"早于{v.silent_since.year}.{v.silent_since.month}.{v.silent_since.day}"
        else:
            last = "-"
        detail.add_row(a.region, a.unit, a.platform.label, a.name, last, v.label)
    console.print(detail)
    if len(problems) > 40:
        console.print(f"……另有 {len(problems) - 40} 个，见下列报告")

    if result.sites:
        sites = Table(title=f"政府网站检查结果（{len(result.sites)} 个）", title_justify="left")
        for column in ("网站名称", "主办单位", "检查结果", "主要问题"):
            sites.add_column(column)
        rank = {"fail": 0, "issues": 1, "pass": 2, "unknown": 3}
        for status in sorted(result.sites, key=lambda s: rank[s.judgement.verdict.value]):
            j = status.judgement
            sites.add_row(status.site.name, status.site.unit, j.verdict.label, j.summary)
        console.print(sites)

    console.print("\n已生成本月报告：")
    for path in result.reports:
        console.print(f"  {path}", soft_wrap=True)
    db = result.database
    m = _command()
    console.print(
        "\n接下来可以试试（演示用的模拟平台已停止，数据库保留）：\n"
        f"  {m} --db {db} status --state zombie\n"
        f"  {m} --db {db} status --json {_an_account(result)}\n"
        f"  {m} --db {db} report --format md\n"
        f"  {m} --db {db} sites status --columns\n"
        f"  {m} --db {db} serve            # 监测页面：http://127.0.0.1:8080\n"
        f"  {m} simulate --generate 400 --ready-file sim.env   # 然后：{m} run\n",
        soft_wrap=True,  # commands must stay copyable, never wrapped mid-line
    )


def _command() -> str:
    """How this monitor was started, so the suggested commands work as printed."""
    argv0 = sys.argv[0] if sys.argv else "monitor"
    if argv0.endswith("__main__.py"):
        return "python -m monitor"
    if os.sep in argv0:
        rel = os.path.relpath(argv0)
        return rel if not rel.startswith("..") else argv0
    return "monitor"


def _first_order(result: DemoResult, region: str) -> int:
    return min(i.account.roster_order for i in result.verdicts if i.account.region == region)


def _an_account(result: DemoResult) -> str:
    for item in result.verdicts:
        if item.verdict.state is State.ZOMBIE and item.account.account_id:
            return f"{item.account.platform.value}:{item.account.account_id}"
    return str(result.verdicts[0].account.id) if result.verdicts else "1"
