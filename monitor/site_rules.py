"""The website rules (国办秘函〔2019〕19号 indicators), pure: evidence and a date in, a verdict out.

    problem          when (at check date D, windows from `sites.*` settings)         verdict
    unavailable      >= 5% of homepage fetches and probes in D-6..D failed            不合格
    homepage_stale   the homepage's newest dated item is older than D - homepage_within 不合格
    stale_column     a column's newest dated item is older than D - its type's window  >= 5 不合格,
                     (其他 has no window; a column with items but no date counts)     1-4 存在问题
    empty_column     a column's listing has no items (whatever its type; not also     >= 5 不合格,
                     stale)                                                         1-4 存在问题
    broken_link      a link that failed twice in the newest sweep                     存在问题

Only the newest fetch of a page is judged: when it failed, that page is not judged at
all (a failed fetch is a failed check, never "not updated"). A site with no page
fetched successfully (within `policy.evidence_max_age`) is `unknown` (未检测), unless
its availability samples make it unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from monitor.durations import Duration
from monitor.models import ColumnKind, SiteVerdict
from monitor.settings import SiteSettings
from monitor.store.sites import ColumnRow, SiteEvidence, SiteObservation

# Problem kinds in the order the notice writes them.
KINDS = ("unavailable", "homepage_stale", "stale_column", "empty_column", "broken_link")
PROBLEM_LABELS = {
    "unavailable": "站点无法访问",
    "homepage_stale": "首页长期未更新",
    "stale_column": "栏目更新不及时",
    "empty_column": "空栏目",
    "broken_link": "错链接",
}
COLUMN_STATE_LABELS = {
    "ok": "正常",
    "stale": "更新不及时",
    "empty": "空栏目",
    "failed": "采集失败",
    "unchecked": "未检测",
    "no_window": "不设时限",
}
FAIL_AT = 5  # overdue or empty columns from which a site fails outright
UNAVAILABLE_SHARE = 0.05
AVAILABILITY_DAYS = 7


@dataclass(frozen=True, slots=True)
class SiteProblem:
    """One kind of problem with how many and the evidence for each (`fetched_at` aware)."""

    kind: str
    count: int
    items: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ColumnFinding:
    """A column as judged: state is ok, stale, empty, failed, unchecked or no_window."""

    column: ColumnRow
    state: str
    observation: SiteObservation | None
    due_after: date | None  # the newest item must be on or after this date


@dataclass(frozen=True, slots=True)
class SiteJudgement:
    """A website's verdict at a date, its problems, the notice's 主要问题 text and columns."""

    verdict: SiteVerdict
    problems: list[SiteProblem] = field(default_factory=list)
    summary: str = ""
    columns: list[ColumnFinding] = field(default_factory=list)


def window_text(window: Duration) -> str:
    """A window as the notice words it: 2 周, 14 天, 6 个月, 1 年."""
    parts = []
    years, months = divmod(window.months, 12)
    if years:
        parts.append(f"{years} 年")
    if months:
        parts.append(f"{months} 个月")
    if window.days:
        weeks, days = divmod(window.days, 7)
        parts.append(f"{weeks} 周" if not days else f"{window.days} 天")
    return "".join(parts) or "0 天"


def column_window(kind: ColumnKind, rules: SiteSettings) -> Duration | None:
    """The update window of a column type (None for 其他)."""
    if kind is ColumnKind.OTHER:
        return None
    window: Duration = getattr(rules.windows, kind.value)
    return window


def _evidence(obs: SiteObservation, column: str | None = None) -> dict[str, Any]:
    """One problem item: the same keys for every kind (None where they do not apply)."""
    return {
        "url": obs.url,
        "column": column,
        "last_date": obs.newest_date.isoformat() if obs.newest_date else None,
        "last_title": obs.newest_title,
        "last_url": obs.newest_url,
        "page": obs.page,
        "status": obs.status,
        "detail": obs.detail,
        "detail_code": obs.detail_code,
        "detail_params": obs.detail_params,
        "fetched_at": obs.observed_at,
    }


def _judge_column(
    column: ColumnRow, obs: SiteObservation | None, rules: SiteSettings, as_of: date
) -> ColumnFinding:
    window = column_window(column.kind, rules)
    due = window.before(as_of) if window else None
    if obs is None:
        return ColumnFinding(column, "unchecked", None, due)
    if not obs.ok:
        return ColumnFinding(column, "failed", obs, due)
    if not obs.items:
        return ColumnFinding(column, "empty", obs, due)
    if due is None:
        return ColumnFinding(column, "no_window", obs, due)
    if obs.newest_date is None or obs.newest_date < due:
        return ColumnFinding(column, "stale", obs, due)
    return ColumnFinding(column, "ok", obs, due)


def judge_site(
    evidence: SiteEvidence, columns: list[ColumnRow], rules: SiteSettings, as_of: date
) -> SiteJudgement:
    """The verdict of one website at `as_of` from its newest evidence (see the module's table)."""
    problems: list[SiteProblem] = []
    items: list[dict[str, Any]]
    samples = evidence.availability
    failed = [s for s in samples if s.reachable is False]
    if samples and len(failed) / len(samples) >= UNAVAILABLE_SHARE:
        items = [_evidence(s) for s in failed]
        problems.append(SiteProblem("unavailable", len(failed), items))
    home = evidence.homepage
    if home is not None and home.ok:
        due = rules.homepage_within.before(as_of)
        if home.newest_date is None or home.newest_date < due:
            problems.append(SiteProblem("homepage_stale", 1, [_evidence(home)]))
    findings = [_judge_column(c, evidence.columns.get(c.id), rules, as_of) for c in columns]
    for state, kind in (("stale", "stale_column"), ("empty", "empty_column")):
        chosen = [f for f in findings if f.state == state]
        if chosen:
            items = [_evidence(f.observation, f.column.name) for f in chosen if f.observation]
            problems.append(SiteProblem(kind, len(chosen), items))
    broken = [obs for obs in evidence.links if not obs.ok]
    if broken:
        items = [_evidence(obs) for obs in broken]
        problems.append(SiteProblem("broken_link", len(broken), items))
    judged = (home is not None and home.ok) or any(
        f.state not in ("unchecked", "failed") for f in findings
    )
    if not judged and not any(p.kind == "unavailable" for p in problems):
        # Nothing read, and no failures enough to call it unavailable: no verdict.
        return SiteJudgement(SiteVerdict.UNKNOWN, problems, "未检测", findings)
    counts = {p.kind: p.count for p in problems}
    if (
        "unavailable" in counts
        or "homepage_stale" in counts
        or counts.get("stale_column", 0) >= FAIL_AT
        or counts.get("empty_column", 0) >= FAIL_AT
    ):
        verdict = SiteVerdict.FAIL
    elif problems:
        verdict = SiteVerdict.ISSUES
    else:
        verdict = SiteVerdict.PASS
    return SiteJudgement(verdict, problems, summary_text(problems, rules), findings)


def summary_text(problems: list[SiteProblem], rules: SiteSettings) -> str:
    """The notice's 主要问题 text, e.g. "5 个栏目更新不及时；1 个空栏目；1 个错链接"."""
    parts = []
    for problem in sorted(problems, key=lambda p: KINDS.index(p.kind)):
        if problem.kind == "unavailable":
            parts.append("站点无法访问")
        elif problem.kind == "homepage_stale":
            parts.append(f"监测 {window_text(rules.homepage_within)}内首页无信息更新")
        elif problem.kind == "stale_column":
            parts.append(f"{problem.count} 个栏目更新不及时")
        elif problem.kind == "empty_column":
            parts.append(f"{problem.count} 个空栏目")
        else:
            parts.append(f"{problem.count} 个错链接")
    return "；".join(parts)
