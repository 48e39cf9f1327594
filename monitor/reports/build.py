"""Building a report: the roster and verdicts at the as-of date, turned into report data.

Only reads: verdicts come from `monitor.status.verdicts_at`, which sees the roster
and the observations as they stood at the end of the as-of day, so anything
recorded later never changes a past report.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, tzinfo
from typing import Any

from monitor.checks.sites import site_statuses
from monitor.checks.verdicts import AccountVerdict, verdicts_at
from monitor.findings import roster_findings
from monitor.messages import policy_of
from monitor.models import Platform, SiteVerdict, State
from monitor.reports.model import (
    CITY_DEPARTMENTS,
    AccountRow,
    CaseOutcome,
    CaseStatus,
    Change,
    DetailRow,
    LastUpdate,
    Problem,
    Rectification,
    RegionTally,
    Report,
    RosterFinding,
    SiteReportRow,
    SiteTally,
    Tally,
    UnitTally,
)
from monitor.reports.periods import month_bounds, month_of, previous_month
from monitor.settings import Policy, SiteSettings

PROBLEM_STATES = frozenset({State.ZOMBIE, State.SUSPENDED})
DEFAULT_TOP_UNITS = 10


def build_report(
    store: Any,
    as_of: date,
    policy: Policy,
    tz: tzinfo,
    *,
    month: str | None = None,
    top_units: int = DEFAULT_TOP_UNITS,
    fmt: str | None = None,
    only_units: frozenset[str] | None = None,
    sites: SiteSettings | None = None,
) -> Report:
    """The report at the end of `as_of` (a month's report when `month` is given).

    `only_units` limits every row and count to those units' accounts (a unit user's report),
    and 整改情况 to those units' cases.

    With `fmt="csv"` (the detail table alone) the comparison with the previous
    month and the all-accounts rows are left out: nothing of them is rendered.
    With `sites` (the website rules), the websites' table is built too.
    """
    detail_only = fmt == "csv"
    previous_as_of = month_bounds(previous_month(as_of))[1]
    # The previous month first, kept as a small id -> state map, so that only one
    # full verdict list is alive at a time (100,000 accounts).
    before = (
        {}
        if detail_only
        else {
            item.account.id: item.verdict.state
            for item in verdicts_at(store, previous_as_of, policy, tz)
            if only_units is None or item.account.unit in only_units
        }
    )
    items = verdicts_at(store, as_of, policy, tz)
    if only_units is not None:
        items = [i for i in items if i.account.unit in only_units]
    region_rank, unit_rank = _group_ranks(items)

    summary = Tally()
    regions: dict[str, Tally] = {}
    units: dict[tuple[str, str], Tally] = {}
    rows: list[DetailRow] = []
    accounts: list[AccountRow] = []
    new_problems: list[Change] = []
    recovered: list[Change] = []
    findings: list[RosterFinding] = []
    for item in items:
        a, v = item.account, item.verdict
        for tally in (
            summary,
            regions.setdefault(a.region, Tally()),
            units.setdefault((a.region, a.unit), Tally()),
        ):
            _count(tally, item)
        if v.state in PROBLEM_STATES:
            rows.append(_detail_row(item))
        if not detail_only:
            accounts.append(_account_row(item, tz))
        if not detail_only:
            was = before.get(a.id)
            change = Change(a.region, a.unit, a.platform, a.name, was, v.state)
            if v.state in PROBLEM_STATES and was not in PROBLEM_STATES:
                new_problems.append(change)
            elif was in PROBLEM_STATES and v.state in (State.ACTIVE, State.WARNING):
                recovered.append(change)
        findings.extend(_roster_findings(item))
    del items

    def row_key(r: Any) -> tuple[int, int]:
        return region_rank[r.region], unit_rank[(r.region, r.unit)]

    rows.sort(key=row_key)  # stable: roster order within a unit
    new_problems.sort(key=row_key)
    recovered.sort(key=row_key)
    findings.sort(key=row_key)
    ranked_units = sorted(
        (UnitTally(r, u, t) for (r, u), t in units.items() if t.problems),
        key=lambda x: (-x.tally.problems, region_rank[x.region], unit_rank[(x.region, x.unit)]),
    )
    site_rows, site_tally = (
        _sites(store, sites, policy, tz, as_of, only_units) if sites else ([], None)
    )
    return Report(
        as_of=as_of,
        month=month,
        previous_as_of=previous_as_of,
        timezone=str(tz),
        policy=policy_of(policy),
        summary=summary,
        regions=[
            RegionTally(r, t) for r, t in sorted(regions.items(), key=lambda x: region_rank[x[0]])
        ],
        top_units=ranked_units[:top_units],
        new_problems=new_problems,
        recovered=recovered,
        roster_findings=findings,
        rows=rows,
        accounts=accounts,
        rectification=None
        if detail_only
        else rectification(
            store,
            month or month_of(as_of),
            rows,
            findings,
            region_rank,
            unit_rank,
            only_units=only_units,
        ),
        sites=site_rows,
        site_tally=site_tally,
    )


_CASE_STATUS = {
    "rectified": CaseStatus.RECTIFIED,
    "not_rectified": CaseStatus.NOT_RECTIFIED,
    "accepted": CaseStatus.ACCEPTED,
}


def rectification(
    store: Any,
    month: str,
    rows: list[DetailRow],
    findings: list[RosterFinding],
    region_rank: dict[str, int],
    unit_rank: dict[tuple[str, str], int],
    *,
    only_units: frozenset[str] | None = None,
) -> Rectification | None:
    """整改情况 of the latest notice before `month`, and who is named months in a row.

    `only_units` keeps only those units' cases; the months in a row follow `rows` and
    `findings`, which the caller has limited to the same units.

    Case statuses are as recorded now (an administrative fact, not a judgement from
    evidence): a notice's own frozen files keep what stood when it was issued.
    """
    earlier = [n for n in store.notices() if n.month < month]
    if not earlier:
        return None
    previous = earlier[-1]
    cases = []
    for c in store.cases(notice=previous.id, units=only_units):
        cases.append(
            CaseOutcome(
                case=c.id,
                account=c.account,
                region=c.region,
                unit=c.unit,
                platform=Platform(c.platform),
                name=c.name,
                problems=tuple(c.problems),
                deadline=c.deadline,
                status=_CASE_STATUS.get(c.status, CaseStatus.PENDING),
                response=c.response,
            )
        )
    cases.sort(
        key=lambda c: (
            region_rank.get(c.region, len(region_rank)),
            unit_rank.get((c.region, c.unit), len(unit_rank)),
        )
    )
    named_now = {r.account for r in rows} | {f.account for f in findings}
    months = [month]
    for _ in range(len(earlier)):
        months.append(previous_month(month_bounds(months[-1])[0]))
    named = store.notice_accounts(months[1:])
    repeated: dict[int, int] = {}
    for account in named_now:
        n = 1
        for m in months[1:]:
            if account not in named.get(m, ()):
                break
            n += 1
        if n >= 2:
            repeated[account] = n
    return Rectification(previous.month, previous.as_of, cases, repeated)


_VERDICT_ORDER = {
    SiteVerdict.FAIL: 0,
    SiteVerdict.ISSUES: 1,
    SiteVerdict.PASS: 2,
    SiteVerdict.UNKNOWN: 3,
}


def _sites(
    store: Any,
    rules: SiteSettings,
    policy: Policy,
    tz: tzinfo,
    as_of: date,
    only_units: frozenset[str] | None = None,
) -> tuple[list[SiteReportRow], SiteTally | None]:
    """The websites' rows (of `only_units`' sites, when given), 不合格 first (then roster
    order), and their tally."""
    statuses = site_statuses(store, rules, policy.evidence_max_age, tz, as_of)
    if only_units is not None:
        statuses = [s for s in statuses if s.site.unit in only_units]
    if not statuses:
        return [], None
    tally = SiteTally()
    rows = []
    for status in statuses:
        site, verdict = status.site, status.judgement.verdict
        tally.sites += 1
        if verdict is SiteVerdict.PASS:
            tally.passed += 1
        elif verdict is SiteVerdict.ISSUES:
            tally.issues += 1
        elif verdict is SiteVerdict.FAIL:
            tally.failed += 1
        else:
            tally.unknown += 1
        rows.append(
            SiteReportRow(
                site.id,
                site.region,
                site.unit,
                site.name,
                site.url,
                site.site_code,
                verdict,
                status.judgement.summary,
            )
        )
    rows.sort(key=lambda r: _VERDICT_ORDER[r.verdict])  # stable: roster order within
    return rows, tally


def _group_ranks(
    items: Iterable[AccountVerdict],
) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Ranks of regions and units by first appearance in roster order; 市直部门 first."""
    regions: dict[str, int] = {}
    units: dict[tuple[str, str], int] = {}
    for item in items:  # verdicts_at returns accounts in roster order
        a = item.account
        regions.setdefault(a.region, len(regions) + 1)
        units.setdefault((a.region, a.unit), len(units))
    if CITY_DEPARTMENTS in regions:
        regions[CITY_DEPARTMENTS] = 0
    return regions, units


def _count(tally: Tally, item: AccountVerdict) -> None:
    v = item.verdict
    tally.accounts += 1
    if v.evidence is not None and v.state is not State.UNKNOWN:
        tally.checked += 1
    setattr(tally, v.state.value, getattr(tally, v.state.value) + 1)
    if v.state is State.ZOMBIE and v.no_content:
        tally.no_content += 1


def _problem(item: AccountVerdict) -> Problem:
    if item.verdict.state is State.SUSPENDED:
        return Problem.SUSPENDED
    platform = item.account.platform
    if platform is Platform.WECHAT:
        return Problem.ZOMBIE_WECHAT
    if platform is Platform.WEIBO:
        return Problem.ZOMBIE_WEIBO
    return Problem.ZOMBIE_OTHER


def _detail_row(item: AccountVerdict) -> DetailRow:
    a, v = item.account, item.verdict
    if v.no_content:
        kind, day = LastUpdate.NO_CONTENT, None
    elif v.latest_post_date is not None:
        kind, day = LastUpdate.DATE, v.latest_post_date
    elif v.silent_since is not None:
        kind, day = LastUpdate.BEFORE, v.silent_since
    else:
        kind, day = LastUpdate.NONE, None
    return DetailRow(
        account=a.id,
        region=a.region,
        unit=a.unit,
        platform=a.platform,
        name=a.name,
        account_id=a.account_id,
        last_update=kind,
        last_update_date=day,
        problem=_problem(item),
        days_silent=v.days_silent,
        evidence_url=v.evidence.url if v.evidence else None,
    )


def _account_row(item: AccountVerdict, tz: tzinfo) -> AccountRow:
    a, v, s = item.account, item.verdict, item.state
    checked = (
        s.last_checked_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if s.last_checked_at else ""
    )
    return AccountRow(
        account=a.id,
        region=a.region,
        unit=a.unit,
        platform=a.platform,
        name=a.name,
        account_id=a.account_id,
        roster_status=a.status.value,
        state=v.state,
        label=v.label,
        latest_post=v.latest_post_date.isoformat() if v.latest_post_date else "",
        days_silent=v.days_silent,
        last_checked=checked,
        evidence_url=(v.evidence.url or "") if v.evidence else "",
        reason=v.reason,
        reason_code=v.reason_code,
        reason_params=v.reason_params,
    )


def _roster_findings(item: AccountVerdict) -> list[RosterFinding]:
    """Roster problems of one account: missing on the platform, not verified, renamed."""
    a = item.account
    return [
        RosterFinding(
            f.kind, a.region, a.unit, a.platform, a.name, f.detail, f.code, f.params, a.id
        )
        for f in roster_findings(item.verdict, item.state.evidence, a.name, item.state.last_outcome)
    ]
