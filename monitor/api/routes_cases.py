"""Rectification cases (整改): the JSON endpoints and the dashboard's case pages.

Every route filters by `unit_scope(request)`: a unit user sees and answers only its
own units' cases, and another unit's case is a 404 (no probing of ids).

    GET  /api/cases                    {"items": [...], "total": N}; open ones unless all=true
    GET  /api/cases/{id}               one case with its events
    POST /api/cases/{id}/response      {"action": "resumed"|"cancel_requested"|"explained", "note"}
    POST /api/cases/{id}/decision      {"decision": "accept"|"reject", "note"}; office only
                                       (a caller limited to units gets 403 on its own cases)
    GET  /cases, /units/{id}/cases     the office's and a unit's case lists (pages)
    GET  /cases/{id}                   a case page with the response form
    POST /cases/{id}/response|decision the forms (then back to the case page)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from monitor.api.dashboard import render
from monitor.api.errors import ApiError
from monitor.api.params import LimitQuery, OffsetQuery, TextQuery, UnitIdPath, ctx_of
from monitor.api.scope import unit_scope
from monitor.checks.cases import ACTION_LABELS, NOTE_MAX, STATUS_LABELS, CaseError, decide, respond
from monitor.dates import utcnow
from monitor.models import MAX_ID
from monitor.records import case_record
from monitor.store import CaseRow
from monitor.store.cases import CASE_STATUSES, LIVE_STATUSES

router = APIRouter(tags=["cases"])

CaseIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The case's id.")]
FORM_MAX_BYTES = 16_384


def _rows(
    request: Request, *, all_cases: bool, status: str | None, unit: str | None
) -> list[CaseRow]:
    store = ctx_of(request).store()
    if status is not None and status not in CASE_STATUSES:
        raise ApiError(422, f"status: use one of {', '.join(CASE_STATUSES)}")
    statuses: tuple[str, ...] | None = (
        (status,) if status is not None else (None if all_cases else LIVE_STATUSES)
    )
    scope = unit_scope(request)
    units = scope
    if unit is not None:
        units = frozenset({unit}) if scope is None or unit in scope else frozenset()
    return store.cases(statuses=statuses, units=units)


def _case(request: Request, case: int) -> CaseRow:
    row = ctx_of(request).store().case(case)
    scope = unit_scope(request)
    if row is None or (scope is not None and row.unit not in scope):
        raise ApiError(404, f"no case with id {case}")
    return row


def _office_only(request: Request) -> None:
    """Decisions are the office's: a unit user (a caller limited to units) may not decide."""
    if unit_scope(request) is not None:
        raise ApiError(403, "only the office decides on explanations")


def _refused(exc: CaseError) -> ApiError:
    return ApiError({"not_found": 404, "conflict": 409}.get(exc.kind, 422), exc.message)


# -- JSON ------------------------------------------------------------------------------


@router.get("/api/cases")
def list_cases(
    request: Request,
    all: Annotated[bool, Query(description="Every case, closed ones too.")] = False,
    status: Annotated[TextQuery, Query(description="Only cases in this status.")] = None,
    unit: Annotated[TextQuery, Query(description="Only this unit's cases (its name).")] = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """Rectification cases (open and answered ones unless `all`), newest notice first."""
    rows = _rows(request, all_cases=all, status=status or None, unit=unit or None)
    tz = ctx_of(request).tz
    items = [case_record(r, tz) for r in rows[offset : offset + limit]]
    return {"items": items, "total": len(rows), "limit": limit, "offset": offset}


@router.get("/api/cases/{case_id}")
def get_case(request: Request, case_id: CaseIdPath) -> dict[str, Any]:
    """One case with its history (opened, answered, decided, reminded, reviewed)."""
    row = _case(request, case_id)
    ctx = ctx_of(request)
    return {**case_record(row, ctx.tz), "events": _events(request, row)}


def _events(request: Request, row: CaseRow) -> list[dict[str, Any]]:
    ctx = ctx_of(request)
    return [
        {"at": e.at.astimezone(ctx.tz).isoformat(), "kind": e.kind, "detail": e.detail}
        for e in ctx.store().case_events(row.id)
    ]


class ResponseIn(BaseModel):
    """A unit's answer to a case."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["resumed", "cancel_requested", "explained"]
    note: str = Field(default="", max_length=NOTE_MAX)


class DecisionIn(BaseModel):
    """The office's decision on an explanation."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["accept", "reject"]
    note: str = Field(default="", max_length=NOTE_MAX)


@router.post("/api/cases/{case_id}/response")
def post_response(request: Request, case_id: CaseIdPath, body: ResponseIn) -> dict[str, Any]:
    """Answer a case: resumed posting, asked to cancel the account, or an explanation."""
    ctx = ctx_of(request)
    _case(request, case_id)
    try:
        row = respond(ctx.store(), ctx.settings, case_id, body.action, body.note, utcnow(),
                      units=unit_scope(request))  # fmt: skip
    except CaseError as exc:
        raise _refused(exc) from exc
    ctx.wrote()
    return case_record(row, ctx.tz)


@router.post("/api/cases/{case_id}/decision")
def post_decision(request: Request, case_id: CaseIdPath, body: DecisionIn) -> dict[str, Any]:
    """Decide on an explanation: accept -> accepted, reject -> open again (office only)."""
    ctx = ctx_of(request)
    _case(request, case_id)
    _office_only(request)
    try:
        row = decide(ctx.store(), ctx.settings, case_id, body.decision, body.note, utcnow(),
                     units=unit_scope(request))  # fmt: skip
    except CaseError as exc:
        raise _refused(exc) from exc
    ctx.wrote()
    return case_record(row, ctx.tz)


# -- pages -----------------------------------------------------------------------------


def _list_page(request: Request, rows: list[CaseRow], title: str, all_cases: bool) -> HTMLResponse:
    tz = ctx_of(request).tz
    return render(
        request,
        "cases.html",
        "cases",
        title=title,
        cases=[case_record(r, tz) for r in rows],
        all_cases=all_cases,
        path=request.url.path,
    )


@router.get("/cases", response_class=HTMLResponse, include_in_schema=False)
def cases_page(request: Request, all: bool = False) -> HTMLResponse:
    """整改: every case the caller may see (the office's list)."""
    rows = _rows(request, all_cases=all, status=None, unit=None)
    return _list_page(request, rows, "整改案件", all)


@router.get("/units/{unit_id}/cases", response_class=HTMLResponse, include_in_schema=False)
def unit_cases_page(request: Request, unit_id: UnitIdPath, all: bool = False) -> HTMLResponse:
    """One unit's cases; another unit's page is a 404 for a unit user."""
    name = ctx_of(request).store().unit_by_id(unit_id)
    scope = unit_scope(request)
    if name is None or (scope is not None and name not in scope):
        raise ApiError(404, f"no unit with id {unit_id}")
    rows = _rows(request, all_cases=all, status=None, unit=name)
    return _list_page(request, rows, f"{name} · 整改案件", all)


@router.get("/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False)
def case_page(request: Request, case_id: CaseIdPath) -> HTMLResponse:
    """A case: what the notice named, its deadline and status, the evidence, the forms."""
    row = _case(request, case_id)
    tz = ctx_of(request).tz
    return render(
        request,
        "case.html",
        "cases",
        c=case_record(row, tz),
        events=_events(request, row),
        actions=ACTION_LABELS,
        statuses=STATUS_LABELS,
        live=row.status in LIVE_STATUSES,
        deciding=row.status == "responded"
        and row.response == "explained"
        and unit_scope(request) is None,
        csrf_token=getattr(request.state, "csrf_token", ""),
        note_max=NOTE_MAX,
    )


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > FORM_MAX_BYTES:
        raise ApiError(413, f"form too large (at most {FORM_MAX_BYTES} bytes)")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


@router.post("/cases/{case_id}/response", include_in_schema=False)
async def response_form(request: Request, case_id: CaseIdPath) -> Response:
    """The case page's answer form; back to the case page."""
    form = await _form(request)
    return _apply(request, case_id, respond, form.get("action", ""), form.get("note", ""))


@router.post("/cases/{case_id}/decision", include_in_schema=False)
async def decision_form(request: Request, case_id: CaseIdPath) -> Response:
    """The case page's decision form (office); back to the case page."""
    form = await _form(request)
    _case(request, case_id)
    _office_only(request)
    return _apply(request, case_id, decide, form.get("decision", ""), form.get("note", ""))


def _apply(request: Request, case_id: int, op: Any, choice: str, note: str) -> Response:
    ctx = ctx_of(request)
    _case(request, case_id)
    try:
        op(ctx.store(), ctx.settings, case_id, choice, note, utcnow(), units=unit_scope(request))
    except CaseError as exc:
        raise _refused(exc) from exc
    ctx.wrote()
    return RedirectResponse(f"/cases/{case_id}", status_code=303)
