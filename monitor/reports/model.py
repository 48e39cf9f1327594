"""The report as data: what a renderer needs, with nothing left to look up or judge."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from monitor.findings import RosterIssue
from monitor.models import Platform, SiteVerdict, State

__all__ = ["RosterIssue"]  # defined with the findings, kept importable from here

CITY_DEPARTMENTS = "市直部门"


class LastUpdate(StrEnum):
    """How the 最后更新时间 cell is filled."""

    DATE = "date"  # the latest post's date
    NO_CONTENT = "no_content"  # 无内容: exists, never posted
    BEFORE = "before"  # 早于 D: a scan from D found nothing
    NONE = "none"  # no post date known (e.g. roster says stopped, platform restricted)


class Problem(StrEnum):
    """The official 问题类别 of a detail row."""

    ZOMBIE_WECHAT = "zombie_wechat"
    ZOMBIE_WEIBO = "zombie_weibo"
    ZOMBIE_OTHER = "zombie_other"
    SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class DetailRow:
    """One zombie or suspended account: a row of the official table."""

    account: int
    region: str
    unit: str
    platform: Platform
    name: str
    account_id: str
    last_update: LastUpdate
    last_update_date: date | None
    problem: Problem
    days_silent: int | None
    evidence_url: str | None


@dataclass(frozen=True, slots=True)
class AccountRow:
    """One account of the roster and its verdict (the 全部账号 sheet)."""

    account: int
    region: str
    unit: str
    platform: Platform
    name: str
    account_id: str
    roster_status: str
    state: State
    label: str
    latest_post: str  # YYYY-MM-DD, or "" when none
    days_silent: int | None
    last_checked: str  # local "YYYY-MM-DD HH:MM", or ""
    evidence_url: str
    reason: str
    reason_code: str = ""
    reason_params: dict[str, Any] | None = None


@dataclass(slots=True)
class Tally:
    """Counts over a set of accounts (the whole roster, a region or a unit)."""

    accounts: int = 0
    checked: int = 0
    active: int = 0
    warning: int = 0
    zombie: int = 0
    suspended: int = 0
    cancelled: int = 0
    unknown: int = 0
    no_content: int = 0

    @property
    def problems(self) -> int:
        return self.zombie + self.suspended

    @property
    def judged(self) -> int:
        """The 合格率 denominator: accounts with a verdict (every state but unknown)."""
        return self.accounts - self.unknown

    @property
    def passed(self) -> int:
        return self.judged - self.problems

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.judged if self.judged else None


@dataclass(frozen=True, slots=True)
class RegionTally:
    region: str
    tally: Tally


@dataclass(frozen=True, slots=True)
class UnitTally:
    region: str
    unit: str
    tally: Tally


@dataclass(frozen=True, slots=True)
class Change:
    """An account whose problem status differs from the previous month's last day."""

    region: str
    unit: str
    platform: Platform
    name: str
    before: State | None  # None: not in the roster then
    after: State


@dataclass(frozen=True, slots=True)
class RosterFinding:
    kind: RosterIssue
    region: str
    unit: str
    platform: Platform
    name: str
    detail: str  # English, as the report JSON's `detail` always was
    detail_code: str = ""
    detail_params: dict[str, Any] | None = None
    account: int = 0


class CaseStatus(StrEnum):
    """How a case of the previous notice stands (整改情况)."""

    RECTIFIED = "rectified"  # 已整改
    NOT_RECTIFIED = "not_rectified"  # 整改不到位
    ACCEPTED = "accepted"  # 已说明
    PENDING = "pending"  # 整改中: open, answered, or waiting for a decision


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    """One case of the previous notice and how it stands."""

    case: int
    account: int
    region: str
    unit: str
    platform: Platform
    name: str
    problems: tuple[str, ...]
    deadline: date
    status: CaseStatus
    response: str | None


@dataclass(slots=True)
class Rectification:
    """整改情况: the previous notice's cases, and the accounts named again month after month."""

    notice: str  # the previous notice's month
    notice_as_of: date
    cases: list[CaseOutcome]
    # account -> months in a row it is named, this report included (only 2 and more)
    repeated: dict[int, int] = field(default_factory=dict)

    def count(self, status: CaseStatus) -> int:
        return sum(1 for c in self.cases if c.status is status)


@dataclass(frozen=True, slots=True)
class SiteReportRow:
    """A website in the attachment-1 table (网站检查结果): its verdict and 主要问题."""

    site: int
    region: str
    unit: str
    name: str
    url: str
    site_code: str
    verdict: SiteVerdict
    summary: str


@dataclass(slots=True)
class SiteTally:
    """Counts over the websites; 合格率 = 合格 / sites with a verdict (未检测 left out)."""

    sites: int = 0
    passed: int = 0
    issues: int = 0
    failed: int = 0
    unknown: int = 0

    @property
    def judged(self) -> int:
        return self.sites - self.unknown

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.judged if self.judged else None


@dataclass(slots=True)
class Report:
    """Everything one report shows; renderers turn it into bytes."""

    as_of: date
    month: str | None  # "YYYY-MM" when the report is a month's, else None (an --as-of report)
    previous_as_of: date
    timezone: str
    policy: dict[str, str]
    summary: Tally
    regions: list[RegionTally]
    top_units: list[UnitTally]
    new_problems: list[Change]
    recovered: list[Change]
    roster_findings: list[RosterFinding]
    rows: list[DetailRow]
    accounts: list[AccountRow] = field(default_factory=list)
    # None: no notice was issued before this report's month (the section is left out)
    rectification: Rectification | None = None
    # Government websites, 不合格 first (empty when no website is in the roster).
    sites: list[SiteReportRow] = field(default_factory=list)
    site_tally: SiteTally | None = None
