"""The dashboard: server-rendered Chinese pages (no JavaScript), from the same queries as the API."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from monitor import favicon
from monitor.api.access import (
    unit_visible,
    visible_account_or_404,
    visible_site_or_404,
    visible_sites,
)
from monitor.api.errors import ApiError
from monitor.api.params import (
    IdPath,
    SiteIdPath,
    TextQuery,
    UnitIdPath,
    blank_to_none,
    ctx_of,
    parse_as_of,
    queries_of,
)
from monitor.api.queries import Filters, Tally
from monitor.api.scope import unit_scope
from monitor.models import Platform, State
from monitor.records import alert_record, evidence_record, observation_record, status_record

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
# What the problem list shows when no state is chosen: everything that needs attention,
# roster problems (名单问题) included.
PROBLEM_STATES = frozenset(
    {State.ZOMBIE.value, State.SUSPENDED.value, State.WARNING.value, State.UNKNOWN.value}
)
# The problem list's "state" choice for accounts with a roster problem.
ROSTER_FILTER = "roster"


def _months(today: date) -> dict[str, str]:
    first = today.replace(day=1)
    year, month = (first.year - 1, 12) if first.month == 1 else (first.year, first.month - 1)
    return {"this": f"{today.year:04d}-{today.month:02d}", "last": f"{year:04d}-{month:02d}"}


def render(request: Request, template: str, nav: str, **values: Any) -> HTMLResponse:
    ctx = ctx_of(request)
    html = request.app.state.templates.get_template(template).render(
        request=request, nav=nav, months=_months(ctx.today()), today=ctx.today(), **values
    )
    return HTMLResponse(html)


@router.get("/favicon.ico")
def favicon_ico() -> Response:
    """The icon, for browsers that ask for it although every page inlines it."""
    return Response(favicon.SVG, media_type="image/svg+xml")


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, as_of: TextQuery = None) -> HTMLResponse:
    """总览: counts by state and region, 合格率, sources' health, newest alerts."""
    ctx, queries = ctx_of(request), queries_of(request)
    day = parse_as_of(ctx, blank_to_none(as_of))
    everything = Filters(units=unit_scope(request))
    regions, units = queries.layout(day, everything)
    by_region = queries.region_counts(day, everything)
    by_unit = queries.unit_counts(day, everything)
    worst = sorted(
        ((u.name, u.id, by_unit.get(u.id, Tally())) for u in units),
        key=lambda row: (-row[2].problems, row[1]),
    )
    return render(
        request,
        "overview.html",
        "overview",
        as_of=day,
        total=queries.state_counts(day),
        regions=[(r, by_region[r]) for r in regions if r in by_region],
        worst_units=[w for w in worst if w[2].problems][:10],
        units_count=len(units),
        sources=queries.source_health(),
        alerts=[
            alert_record(a, ctx.tz)
            for a in queries.alerts(open_only=True, units=unit_scope(request))[:10]
        ],
    )


@router.get("/problems", response_class=HTMLResponse)
def problems(
    request: Request,
    region: TextQuery = None,
    unit: TextQuery = None,
    state: TextQuery = None,
    platform: TextQuery = None,
    q: TextQuery = None,
    as_of: TextQuery = None,
    page: int = Query(default=1, ge=1, le=100_000),
) -> HTMLResponse:
    """问题清单: accounts needing attention, filterable by a GET form."""
    ctx, queries = ctx_of(request), queries_of(request)
    day = parse_as_of(ctx, blank_to_none(as_of))
    region, unit, state, platform, q = map(blank_to_none, (region, unit, state, platform, q))
    if state is not None and state != ROSTER_FILTER and state not in {s.value for s in State}:
        raise ApiError(422, f"未知状态 {state!r}")
    if platform is not None and platform not in {p.value for p in Platform}:
        raise ApiError(422, f"未知平台 {platform!r}")
    form = {"region": region, "unit": unit, "state": state, "platform": platform, "q": q}
    scope = unit_scope(request)
    filters = Filters(unit=unit, region=region, platform=platform, q=q, units=scope)
    if state == ROSTER_FILTER:
        filters.with_findings = True
    elif state:
        filters.states = frozenset({state})
    else:
        filters.attention = PROBLEM_STATES
    ids, total = queries.page(day, filters, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    counts = queries.state_counts(day, filters)
    regions, units = queries.layout(day, Filters(units=scope))
    return render(
        request,
        "problems.html",
        "problems",
        as_of=day,
        records=queries.records(ids, day),
        total=total,
        counts=counts.states,
        roster_count=counts.roster,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        form=form,
        page_query=lambda n: urlencode({**{k: v for k, v in form.items() if v}, "page": n}),
        regions=regions,
        units=sorted(((u.id, u.name) for u in units), key=lambda u: u[0]),
    )


@router.get("/units", response_class=HTMLResponse)
def units_page(request: Request, region: TextQuery = None) -> HTMLResponse:
    """主办单位: every unit with its accounts' states."""
    ctx, queries = ctx_of(request), queries_of(request)
    day = ctx.today()
    region = blank_to_none(region)
    filters = Filters(region=region, units=unit_scope(request))
    _, units = queries.layout(day, filters)
    counts = queries.unit_counts(day, filters)
    rows = [(u.id, u.name, u.regions[0], counts.get(u.id, Tally())) for u in units]
    return render(request, "units.html", "units", as_of=day, rows=rows, region=region)


@router.get("/units/{unit_id}", response_class=HTMLResponse)
def unit_page(request: Request, unit_id: UnitIdPath, as_of: TextQuery = None) -> HTMLResponse:
    """单位: its accounts, their verdicts and its open alerts."""
    ctx, queries = ctx_of(request), queries_of(request)
    day = parse_as_of(ctx, blank_to_none(as_of))
    name = ctx.store().unit_by_id(unit_id)
    if name is None or not unit_visible(request, name):
        raise ApiError(404, f"没有编号为 {unit_id} 的主办单位")
    filters = Filters(unit=str(unit_id))
    ids, _ = queries.page(day, filters, None)
    regions, _ = queries.layout(day, filters)
    alerts = queries.alerts(
        open_only=True, unit=str(unit_id), unit_accounts=ids, units=unit_scope(request)
    )
    return render(
        request,
        "unit.html",
        "units",
        as_of=day,
        unit={"id": unit_id, "name": name},
        regions=regions,
        total=queries.state_counts(day, filters),
        records=queries.records(ids, day),
        alerts=[alert_record(a, ctx.tz) for a in alerts],
    )


@router.get("/sites", response_class=HTMLResponse)
def sites_page(request: Request, as_of: TextQuery = None) -> HTMLResponse:
    """网站: every government website with its verdict and 主要问题, 不合格 first."""
    from monitor.checks.sites import site_verdicts
    from monitor.records import site_record

    ctx = ctx_of(request)
    day = parse_as_of(ctx, blank_to_none(as_of))
    records = [
        site_record(s, ctx.tz)
        for s in site_verdicts(ctx.store(), ctx.settings, day, visible_sites(request))
    ]
    counts = Counter(r["verdict"] for r in records)
    judged = len(records) - counts["unknown"]
    order = {"fail": 0, "issues": 1, "pass": 2, "unknown": 3}
    records.sort(key=lambda r: order[r["verdict"]])
    return render(
        request,
        "sites.html",
        "sites",
        as_of=day,
        records=records,
        counts=counts,
        pass_rate=counts["pass"] / judged if judged else None,
    )


@router.get("/sites/{site_id}", response_class=HTMLResponse)
def site_page(request: Request, site_id: SiteIdPath, as_of: TextQuery = None) -> HTMLResponse:
    """网站: its verdict, problems with their evidence, and every column as judged."""
    from monitor.checks.sites import site_verdicts
    from monitor.records import site_record
    from monitor.site_rules import COLUMN_STATE_LABELS, PROBLEM_LABELS

    ctx = ctx_of(request)
    day = parse_as_of(ctx, blank_to_none(as_of))
    site = visible_site_or_404(request, site_id, f"没有编号为 {site_id} 的网站")
    (status,) = site_verdicts(ctx.store(), ctx.settings, day, [site])
    return render(
        request,
        "site.html",
        "sites",
        as_of=day,
        r=site_record(status, ctx.tz, with_columns=True),
        problem_labels=PROBLEM_LABELS,
        state_labels=COLUMN_STATE_LABELS,
    )


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
def account_page(request: Request, account_id: IdPath, as_of: TextQuery = None) -> HTMLResponse:
    """账号: verdict, evidence link and a timeline of observations."""
    ctx, queries = ctx_of(request), queries_of(request)
    day = parse_as_of(ctx, blank_to_none(as_of))
    visible_account_or_404(request, account_id, f"没有编号为 {account_id} 的账号")
    found = queries.verdicts([account_id], day, include_retired=True)
    if not found:
        raise ApiError(404, f"没有编号为 {account_id} 的账号")
    item = found[0]
    observations = ctx.store().observations(account_id, limit=100)
    return render(
        request,
        "account.html",
        "problems",
        as_of=day,
        r=status_record(item, ctx.tz),
        retired=item.account.retired,
        evidence=evidence_record(item.verdict.evidence, ctx.tz),
        observations=[observation_record(o, ctx.tz) for o in observations],
        alerts=[alert_record(a, ctx.tz) for a in queries.account_alerts(account_id)],
    )
