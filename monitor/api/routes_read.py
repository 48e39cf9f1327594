"""JSON read endpoints: accounts, units, alerts, reports, websites."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from monitor.api.access import (
    unit_visible,
    visible_account_or_404,
    visible_site_or_404,
    visible_sites,
)
from monitor.api.errors import ApiError
from monitor.api.params import (
    AsOfQuery,
    IdPath,
    LimitQuery,
    OffsetQuery,
    PlatformParam,
    SiteIdPath,
    StateParam,
    TextQuery,
    UnitIdPath,
    ctx_of,
    parse_as_of,
    queries_of,
)
from monitor.api.queries import Filters, Tally, moment_of
from monitor.api.scope import unit_scope
from monitor.records import alert_record, evidence_record, observation_record, status_record

router = APIRouter(prefix="/api", tags=["read"])


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get("/accounts")
def list_accounts(
    request: Request,
    unit: Annotated[TextQuery, Query(description="Unit id or name (主办单位).")] = None,
    region: Annotated[TextQuery, Query(description="Region (类别).")] = None,
    platform: PlatformParam | None = None,
    state: StateParam | None = None,
    q: Annotated[TextQuery, Query(description="Part of the account's name.")] = None,
    as_of: AsOfQuery = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """Accounts with their verdicts (fields of `monitor status --json`), filtered and paged."""
    ctx, queries = ctx_of(request), queries_of(request)
    day = parse_as_of(ctx, as_of)
    filters = Filters(
        unit=unit,
        region=region,
        platform=platform.value if platform else None,
        states=frozenset({state.value}) if state else None,
        q=q,
        units=unit_scope(request),
    )
    ids, total = queries.page(day, filters, limit, offset)
    return page(queries.records(ids, day), total, limit, offset)


@router.get("/accounts/{account_id}")
def get_account(
    request: Request,
    account_id: IdPath,
    as_of: AsOfQuery = None,
    observations: Annotated[int, Query(ge=0, le=500)] = 50,
) -> dict[str, Any]:
    """One account's verdict with its evidence, its open alerts and its newest observations."""
    ctx, queries = ctx_of(request), queries_of(request)
    day = parse_as_of(ctx, as_of)
    visible_account_or_404(request, account_id, f"no account with id {account_id}")
    found = queries.verdicts([account_id], day, include_retired=True)
    if not found:
        raise ApiError(404, f"no account with id {account_id}")
    item = found[0]
    store = ctx.store()
    return {
        **status_record(item, ctx.tz),
        "retired": item.account.retired,
        "evidence": evidence_record(item.verdict.evidence, ctx.tz),
        "alerts": [alert_record(a, ctx.tz) for a in queries.account_alerts(account_id)],
        "observations": [
            observation_record(o, ctx.tz)
            for o in store.observations(account_id, limit=observations)
        ],
    }


@router.get("/units")
def list_units(
    request: Request,
    region: TextQuery = None,
    as_of: AsOfQuery = None,
) -> dict[str, Any]:
    """Units (主办单位) with regions, account counts and accounts per state."""
    ctx, queries = ctx_of(request), queries_of(request)
    day = parse_as_of(ctx, as_of)
    by_unit = queries.unit_counts(day)
    units = []
    for u in ctx.store().units(moment_of(ctx, day)):
        if region is not None and region not in u["regions"]:
            continue
        if not unit_visible(request, u["name"]):
            continue
        t = by_unit.get(u["id"], Tally())
        units.append(
            {
                "id": u["id"],
                "name": u["name"],
                "regions": u["regions"],
                "accounts": u["accounts"],
                "states": dict(t.states),
                "problems": t.problems,
                "pass_rate": t.pass_rate,
            }
        )
    return {"items": units, "total": len(units)}


@router.get("/units/{unit_id}")
def get_unit(request: Request, unit_id: UnitIdPath, as_of: AsOfQuery = None) -> dict[str, Any]:
    """One unit: its accounts with their verdicts, and its open alerts."""
    ctx = ctx_of(request)
    day = parse_as_of(ctx, as_of)
    name = ctx.store().unit_by_id(unit_id)
    if name is None or not unit_visible(request, name):
        raise ApiError(404, f"no unit with id {unit_id}")
    return unit_payload(request, unit_id, name, day)


def unit_payload(request: Request, unit_id: int, name: str, day: Any) -> dict[str, Any]:
    ctx, queries = ctx_of(request), queries_of(request)
    ids, _ = queries.page(day, Filters(unit=str(unit_id)), 100_000_000, 0)
    t = queries.state_counts(day, Filters(unit=str(unit_id)))
    records = queries.records(ids, day)
    return {
        "id": unit_id,
        "name": name,
        "regions": list(dict.fromkeys(r["region"] for r in records)),
        "states": dict(t.states),
        "problems": t.problems,
        "pass_rate": t.pass_rate,
        "accounts": records,
        "alerts": [
            alert_record(a, ctx.tz)
            for a in queries.alerts(
                open_only=True, unit=str(unit_id), unit_accounts=ids, units=unit_scope(request)
            )
        ],
    }


SiteVerdictParam = Literal["pass", "issues", "fail", "unknown"]


@router.get("/sites")
def list_sites(
    request: Request,
    verdict: Annotated[
        SiteVerdictParam | None, Query(description="Only websites with this verdict.")
    ] = None,
    as_of: AsOfQuery = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """Government websites with their verdicts (the records of `monitor sites status --json`)."""
    from monitor.checks.sites import site_verdicts
    from monitor.records import site_record

    ctx = ctx_of(request)
    day = parse_as_of(ctx, as_of)
    records = [
        site_record(s, ctx.tz)
        for s in site_verdicts(ctx.store(), ctx.settings, day, visible_sites(request))
    ]
    if verdict is not None:
        records = [r for r in records if r["verdict"] == verdict]
    return page(records[offset : offset + limit], len(records), limit, offset)


@router.get("/sites/{site_id}")
def get_site(request: Request, site_id: SiteIdPath, as_of: AsOfQuery = None) -> dict[str, Any]:
    """One website's verdict, problems with their evidence, and every column as judged."""
    from monitor.checks.sites import site_verdicts
    from monitor.records import site_record

    ctx = ctx_of(request)
    day = parse_as_of(ctx, as_of)
    site = visible_site_or_404(request, site_id, f"no website with id {site_id}")
    (status,) = site_verdicts(ctx.store(), ctx.settings, day, [site])
    return site_record(status, ctx.tz, with_columns=True)


@router.get("/alerts")
def list_alerts(
    request: Request,
    status: Literal["open", "all"] = "open",
    unit: Annotated[TextQuery, Query(description="Unit id or name.")] = None,
    region: TextQuery = None,
    kind: TextQuery = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """Alerts, newest first: open ones (default) or all; by unit, region, kind."""
    ctx, queries = ctx_of(request), queries_of(request)
    members = None
    if unit is not None and unit.isascii() and unit.isdigit():
        members, _ = queries.page(ctx.today(), Filters(unit=unit), 100_000_000, 0)
    rows = queries.alerts(
        open_only=status == "open",
        unit=unit,
        region=region,
        unit_accounts=members,
        units=unit_scope(request),
    )
    if kind is not None:
        rows = [r for r in rows if r["kind"] == kind]
    items = [alert_record(r, ctx.tz) for r in rows[offset : offset + limit]]
    return page(items, len(rows), limit, offset)


REPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
}


@router.get("/reports/{month}")
def get_report(
    request: Request,
    month: str,
    format: Literal["csv", "xlsx", "html", "json", "md"] = "json",
    as_of: AsOfQuery = None,
    lang: Literal["zh", "en"] | None = None,
) -> Response:
    """The month's check result (检查结果), as of its last day or of `as_of` within it."""
    ctx = ctx_of(request)
    try:
        from monitor.reports import PeriodError, build_report, month_as_of, month_bounds, render
    except ImportError as exc:  # the reports package is optional at this layer
        raise ApiError(503, f"reports are not available: {exc}") from exc
    now = ctx.today()
    try:
        first, last = month_bounds(month)
        day = month_as_of(month, now)
    except PeriodError as exc:
        raise ApiError(422, f"month: {exc}") from exc
    if as_of is not None:
        day = parse_as_of(ctx, as_of)
        if not first <= day <= last:
            raise ApiError(422, f"as_of: {day.isoformat()} is not in {month}")
        if day > now:
            raise ApiError(422, f"as_of: {day.isoformat()} is in the future")
    settings = ctx.settings
    built = build_report(
        ctx.store(),
        day,
        settings.policy,
        ctx.tz,
        month=month,
        top_units=settings.reports.top_units,
        fmt=format,
        only_units=unit_scope(request),
        sites=settings.sites,
    )
    if format == "html":  # served by the dashboard: the page links back to it
        from monitor.reports.render_html import render_html

        data = render_html(built, lang or settings.reports.lang, home="/")
    else:
        data = render(built, format, lang or settings.reports.lang)
    headers = {}
    if format in ("xlsx", "csv"):
        from urllib.parse import quote

        from monitor.reports.deliver import report_filename

        filename = report_filename(month, format)
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return Response(data, media_type=REPORT_TYPES[format], headers=headers)
