"""Words of the report in Chinese (the official notice's) and English, and cell formatting.

Every renderer takes its labels and cell texts from here, so the formats agree.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from monitor.findings import FINDING_LABELS
from monitor.messages import policy_text as rule_text
from monitor.messages import render
from monitor.models import PLATFORM_LABELS, STATE_LABELS, SiteVerdict, State
from monitor.reports.model import DetailRow, LastUpdate, Problem, Report, SiteReportRow, Tally

__all__ = ["FINDING_LABELS"]  # defined with the findings, kept importable from here

LANGS = ("zh", "en")

# The official table's six columns, then ours. The six stay exactly as the
# official table writes them in every language (other tools read them by name).
OFFICIAL_COLUMNS = ["类别", "主办单位", "政务微信", "政务微博", "最后更新时间", "问题类别"]
DETAIL_COLUMNS = {
    "zh": [*OFFICIAL_COLUMNS, "其他平台", "账号ID", "沉寂天数", "证据链接"],
    "en": [*OFFICIAL_COLUMNS, "Other platforms", "Account ID", "Days silent", "Evidence link"],
}
REGION_COLUMNS = {
    "zh": ["类别", "账号数", "僵尸", "停运未注销", "无内容", "未检测", "合格率"],
    "en": ["Region", "Accounts", "Zombie", "Suspended", "No content", "Unknown", "Pass rate"],
}
UNIT_COLUMNS = {
    "zh": ["类别", "主办单位", "账号数", "问题账号", "僵尸", "停运未注销"],
    "en": ["Region", "Unit", "Accounts", "Problems", "Zombie", "Suspended"],
}
CHANGE_COLUMNS = {
    "zh": ["类别", "主办单位", "平台", "账号", "上月", "本月"],
    "en": ["Region", "Unit", "Platform", "Account", "Before", "Now"],
}
FINDING_COLUMNS = {
    "zh": ["问题", "类别", "主办单位", "平台", "账号", "说明"],
    "en": ["Issue", "Region", "Unit", "Platform", "Account", "Detail"],
}
ACCOUNT_COLUMNS = {
    "zh": ["编号", "类别", "主办单位", "平台", "账号名称", "账号ID", "名单状态", "状态",
           "最后发布", "沉寂天数", "最后检查", "证据链接", "依据"],
    "en": ["ID", "Region", "Unit", "Platform", "Account", "Account ID", "Roster status", "State",
           "Latest post", "Days silent", "Last checked", "Evidence link", "Reason"],
}  # fmt: skip

# The notice's attachment 1 (websites), with 类别 and 主办单位 added.
SITE_COLUMNS = {
    "zh": ["序号", "类别", "主办单位", "网站名称", "网址", "网站标识码", "检查结果", "主要问题"],
    "en": ["No.", "Region", "Unit", "Website", "URL", "Site code", "Result", "Main problems"],
}
SITE_VERDICT_LABELS = {
    "zh": {
        SiteVerdict.PASS: "合格",
        SiteVerdict.ISSUES: "存在问题",
        SiteVerdict.FAIL: "不合格",
        SiteVerdict.UNKNOWN: "未检测",
    },
    "en": {
        SiteVerdict.PASS: "Pass",
        SiteVerdict.ISSUES: "Issues",
        SiteVerdict.FAIL: "Fail",
        SiteVerdict.UNKNOWN: "Not checked",
    },
}

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "sites": "网站检查结果",
        "site_pass_rate_note": "网站合格率 = 合格网站 / 有结论的网站（存在问题、不合格均不计为合格；未检测不计入）。",
        "title_suffix": "政务新媒体检查结果",
        "item_value": "项目|数值",
        "check_date": "检查日期",
        "policy": "判定规则",
        "summary": "总体情况",
        "regions": "各地区情况",
        "top_units": "问题较多的单位",
        "changes": "与上月比较",
        "new_problems": "新增问题账号",
        "recovered": "已恢复更新",
        "roster": "名单问题",
        "detail": "问题账号明细",
        "none": "无",
        "chart": "各地区问题账号",
        "pass_rate_note": (
            "合格率 = 既非僵尸也非停运未注销的账号 / 有结论的账号；未检测账号不计入，单独列出。"
        ),
        "continuation_note": "类别、主办单位空白处同上一行（原表为合并单元格）。",
        "home": "返回监测总览",
    },
    "en": {
        "sites": "Website check results",
        "site_pass_rate_note": (
            "Website pass rate = websites passed / websites with a verdict "
            "(issues and fail are not passes; not checked is left out)."
        ),
        "title_suffix": "Government new-media check results",
        "item_value": "Item|Value",
        "check_date": "Check date",
        "policy": "Policy",
        "summary": "Summary",
        "regions": "By region",
        "top_units": "Units with the most problems",
        "changes": "Change against the previous month",
        "new_problems": "New problem accounts",
        "recovered": "Recovered",
        "roster": "Roster problems",
        "detail": "Problem accounts",
        "none": "None",
        "chart": "Problem accounts by region",
        "pass_rate_note": (
            "Pass rate = accounts neither zombie nor suspended / accounts with a verdict; "
            "unknown accounts are left out and counted separately."
        ),
        "continuation_note": "A blank region or unit continues the row above (merged in the original).",
        "home": "Back to the dashboard",
    },
}

SUMMARY_LABELS = {
    "zh": {
        "accounts": "监测账号",
        "checked": "检测成功",
        "active": "正常",
        "warning": "即将超期",
        "zombie": "僵尸账号（含无内容）",
        "no_content": "其中无内容",
        "suspended": "停运未注销",
        "cancelled": "已注销",
        "unknown": "未检测/采集失败（不计入合格率）",
        "judged": "有结论的账号（合格率分母）",
        "passed": "合格账号",
        "pass_rate": "合格率",
        "new_problems": "较上月新增问题",
        "recovered": "较上月恢复更新",
        "sites": "监测网站",
        "sites_failed": "不合格网站",
        "sites_issues": "存在问题网站",
        "sites_passed": "合格网站",
        "sites_unknown": "未检测网站（不计入网站合格率）",
        "site_pass_rate": "网站合格率",
    },
    "en": {
        "accounts": "Accounts monitored",
        "checked": "Checked successfully",
        "active": "Active",
        "warning": "Warning",
        "zombie": "Zombie (incl. no content)",
        "no_content": "of which no content",
        "suspended": "Suspended (stopped, not deregistered)",
        "cancelled": "Cancelled",
        "unknown": "Unknown / check failed (left out of the pass rate)",
        "judged": "Accounts with a verdict (pass rate denominator)",
        "passed": "Passed",
        "pass_rate": "Pass rate",
        "new_problems": "New problems since last month",
        "recovered": "Recovered since last month",
        "sites": "Websites monitored",
        "sites_failed": "Websites failed",
        "sites_issues": "Websites with issues",
        "sites_passed": "Websites passed",
        "sites_unknown": "Websites not checked (left out of the website pass rate)",
        "site_pass_rate": "Website pass rate",
    },
}

PROBLEM_LABELS = {
    "zh": {
        Problem.ZOMBIE_WECHAT: "僵尸微信",
        Problem.ZOMBIE_WEIBO: "僵尸微博",
        Problem.ZOMBIE_OTHER: "僵尸账号",
        Problem.SUSPENDED: "停运未注销",
    },
    "en": {
        Problem.ZOMBIE_WECHAT: "Zombie WeChat",
        Problem.ZOMBIE_WEIBO: "Zombie Weibo",
        Problem.ZOMBIE_OTHER: "Zombie account",
        Problem.SUSPENDED: "Stopped, not deregistered",
    },
}
EN_STATES = {
    State.ACTIVE: "active",
    State.WARNING: "warning",
    State.ZOMBIE: "zombie",
    State.SUSPENDED: "suspended",
    State.CANCELLED: "cancelled",
    State.UNKNOWN: "unknown",
}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r} (use {', '.join(LANGS)})")
    return lang


def title(report: Report, lang: str) -> str:
    """ "2020年2月政务新媒体检查结果" for a month, the day as well for an --as-of report."""
    d = report.as_of
    if lang == "en":
        when = d.strftime("%B %Y") if report.month else f"as of {d.isoformat()}"
        return f"{TEXT['en']['title_suffix']}, {when}"
    when = f"{d.year}年{d.month}月" if report.month else f"{d.year}年{d.month}月{d.day}日"
    return when + TEXT["zh"]["title_suffix"]


def policy_text(report: Report, lang: str) -> str:
    """The windows in words: 超过 1 个月未更新为僵尸, ... (the durations spelled out)."""
    return rule_text(report.policy, report.timezone, lang)


def dotted(day: date) -> str:
    """The notice's date form: 2020.2.9."""
    return f"{day.year}.{day.month}.{day.day}"


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def platform_name(platform: Any, lang: str) -> str:
    return PLATFORM_LABELS[platform] if lang == "zh" else platform.value


def state_name(state: State | None, lang: str) -> str:
    if state is None:
        return "不在名单" if lang == "zh" else "not listed"
    return STATE_LABELS[state] if lang == "zh" else EN_STATES[state]


def last_update_text(row: DetailRow, lang: str) -> str:
    """最后更新时间: 2020.2.9, 无内容, or 早于2020.2.9 (a scan from that day found nothing)."""
    if row.last_update is LastUpdate.NO_CONTENT:
        return "无内容" if lang == "zh" else "no content"
    if row.last_update_date is None:
        return ""
    if row.last_update is LastUpdate.BEFORE:
        return ("早于" if lang == "zh" else "before ") + dotted(row.last_update_date)
    return dotted(row.last_update_date)


def detail_cells(row: DetailRow, lang: str) -> list[Any]:
    """One detail row's cells, in DETAIL_COLUMNS order (region and unit always filled)."""
    wechat = row.name if row.platform.value == "wechat" else ""
    weibo = row.name if row.platform.value == "weibo" else ""
    sep = "：" if lang == "zh" else ": "
    other = "" if wechat or weibo else f"{platform_name(row.platform, lang)}{sep}{row.name}"
    return [
        row.region,
        row.unit,
        wechat,
        weibo,
        # The official columns keep the official values in every language.
        last_update_text(row, "zh"),
        PROBLEM_LABELS["zh"][row.problem],
        other,
        row.account_id,
        row.days_silent,
        row.evidence_url or "",
    ]


def continuation(rows: list[DetailRow]) -> list[tuple[bool, bool]]:
    """Per row: (region continues the row above, unit continues the row above)."""
    out = []
    prev: DetailRow | None = None
    for row in rows:
        same_region = prev is not None and prev.region == row.region
        out.append((same_region, same_region and prev is not None and prev.unit == row.unit))
        prev = row
    return out


def summary_items(report: Report, lang: str) -> list[tuple[str, str]]:
    """The summary as (label, value) lines, the 合格率 as a percentage text."""
    return [
        (label, percent(v) if key in RATE_KEYS else str(v))
        for key, label, v in summary_values(report, lang)
    ]


def summary_values(report: Report, lang: str) -> list[tuple[str, str, Any]]:
    """The summary as (key, label, value): counts, and the 合格率 as a fraction (or None)."""
    s: Tally = report.summary
    words = SUMMARY_LABELS[lang]
    values: list[tuple[str, Any]] = [
        ("accounts", s.accounts),
        ("checked", s.checked),
        ("active", s.active),
        ("warning", s.warning),
        ("zombie", s.zombie),
        ("no_content", s.no_content),
        ("suspended", s.suspended),
        ("cancelled", s.cancelled),
        ("unknown", s.unknown),
        ("judged", s.judged),
        ("passed", s.passed),
        ("pass_rate", s.pass_rate),
        ("new_problems", len(report.new_problems)),
        ("recovered", len(report.recovered)),
    ]
    sites = report.site_tally
    if sites is not None:
        values += [
            ("sites", sites.sites),
            ("sites_failed", sites.failed),
            ("sites_issues", sites.issues),
            ("sites_passed", sites.passed),
            ("sites_unknown", sites.unknown),
            ("site_pass_rate", sites.pass_rate),
        ]
    return [(k, words[k], v) for k, v in values]


RATE_KEYS = frozenset({"pass_rate", "site_pass_rate"})


def site_cells(number: int, row: SiteReportRow, lang: str) -> list[Any]:
    """One website's cells, in SITE_COLUMNS order."""
    return [
        number,
        row.region,
        row.unit,
        row.name,
        row.url,
        row.site_code,
        SITE_VERDICT_LABELS[lang][row.verdict],
        row.summary if row.verdict is not SiteVerdict.UNKNOWN else "",
    ]


def region_cells(region: str, t: Tally) -> list[Any]:
    return [
        region,
        t.accounts,
        t.zombie,
        t.suspended,
        t.no_content,
        t.unknown,
        percent(t.pass_rate),
    ]


def unit_cells(region: str, unit: str, t: Tally) -> list[Any]:
    return [region, unit, t.accounts, t.problems, t.zombie, t.suspended]


def change_cells(c: Any, lang: str) -> list[Any]:
    return [
        c.region,
        c.unit,
        platform_name(c.platform, lang),
        c.name,
        state_name(c.before, lang),
        state_name(c.after, lang),
    ]


def finding_cells(f: Any, lang: str) -> list[Any]:
    return [
        FINDING_LABELS[lang][f.kind],
        f.region,
        f.unit,
        platform_name(f.platform, lang),
        f.name,
        finding_text(f, lang),
    ]


def finding_text(f: Any, lang: str) -> str:
    """A roster finding's detail in `lang`."""
    return render(f.detail_code, f.detail_params, lang, f.detail)


def account_cells(a: Any, lang: str) -> list[Any]:
    status = {"operating": "运行", "stopped": "停运", "cancelled": "已注销"}
    return [
        a.account,
        a.region,
        a.unit,
        platform_name(a.platform, lang),
        a.name,
        a.account_id,
        status.get(a.roster_status, a.roster_status) if lang == "zh" else a.roster_status,
        a.label if lang == "zh" else EN_STATES[a.state],
        a.latest_post,
        a.days_silent,
        a.last_checked,
        a.evidence_url,
        render(a.reason_code, a.reason_params, lang, a.reason),
    ]


# -- 整改情况 (the previous notice's cases) ------------------------------------------------

RECTIFY_TEXT = {
    "zh": {
        "heading": "整改情况",
        "intro": "{month} 通报（检查日期 {as_of}）所列账号的整改情况：",
        "counts": "已整改 {rectified} 个，整改不到位 {not_rectified} 个，已说明 {accepted} 个，整改中 {pending} 个",
        "repeated": "连续通报",
        "repeated_cell": "连续 {n} 个月",
    },
    "en": {
        "heading": "Rectification",
        "intro": "Accounts named in the {month} notice (checked {as_of}):",
        "counts": "rectified {rectified}, not rectified {not_rectified}, explained {accepted}, pending {pending}",
        "repeated": "Named in consecutive notices",
        "repeated_cell": "{n} months in a row",
    },
}
CASE_STATUS_LABELS = {
    "zh": {
        "rectified": "已整改",
        "not_rectified": "整改不到位",
        "accepted": "已说明",
        "pending": "整改中",
    },
    "en": {
        "rectified": "Rectified",
        "not_rectified": "Not rectified",
        "accepted": "Explained",
        "pending": "Pending",
    },
}
CASE_COLUMNS = {
    "zh": ["类别", "主办单位", "平台", "账号名称", "整改期限", "整改情况"],
    "en": ["Region", "Unit", "Platform", "Account", "Deadline", "Status"],
}
REPEATED_COLUMNS = {
    "zh": ["类别", "主办单位", "平台", "账号名称", "连续通报"],
    "en": ["Region", "Unit", "Platform", "Account", "Named"],
}


def case_cells(c: Any, lang: str) -> list[Any]:
    return [
        c.region,
        c.unit,
        platform_name(c.platform, lang),
        c.name,
        c.deadline.isoformat(),
        CASE_STATUS_LABELS[lang][c.status.value],
    ]


def repeated_rows(report: Report, lang: str) -> list[list[Any]]:
    """The detail rows (and roster findings) of accounts named months in a row, once each."""
    r = report.rectification
    if r is None or not r.repeated:
        return []
    seen: set[int] = set()
    out = []
    items: list[Any] = [*report.rows, *report.roster_findings]
    for item in items:
        if item.account in r.repeated and item.account not in seen:
            seen.add(item.account)
            n = r.repeated[item.account]
            out.append(
                [item.region, item.unit, platform_name(item.platform, lang), item.name,
                 RECTIFY_TEXT[lang]["repeated_cell"].format(n=n)]
            )  # fmt: skip
    return out


def rectify_counts(report: Report, lang: str) -> str:
    r = report.rectification
    assert r is not None
    from monitor.reports.model import CaseStatus

    return RECTIFY_TEXT[lang]["counts"].format(**{s.value: r.count(s) for s in CaseStatus})
