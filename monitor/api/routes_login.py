"""The dashboard's sign-in form, sign-out, and the audit log for admins (`GET /api/audit`)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.api.access import require_admin
from monitor.api.params import LimitQuery, OffsetQuery, ctx_of
from monitor.api.sessions import (
    LOCK_AFTER,
    SESSION_COOKIE,
    SESSION_HOURS,
    SignIn,
    sign_in,
)
from monitor.credentials import digest
from monitor.dates import utcnow
from monitor.records import audit_record

router = APIRouter()

MAX_NAME = 200
MAX_PASSWORD = 1000


def _login_page(request: Request, status: int = 200, message: str | None = None) -> HTMLResponse:
    html = request.app.state.templates.get_template("login.html").render(
        request=request, nav=None, message=message
    )
    return HTMLResponse(html, status_code=status)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request) -> HTMLResponse:
    """登录: the sign-in form (name, password, the CSRF token)."""
    return _login_page(request)


@router.post("/login", include_in_schema=False)
async def login(request: Request) -> Response:
    """Sign in: a new session (a new id, whatever cookie came in), or the form again.

    The CSRF token was checked before this runs (monitor.api.auth).
    """
    fields = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    name = fields.get("username", "").strip()[:MAX_NAME]
    password = fields.get("password", "")[:MAX_PASSWORD]
    ctx = ctx_of(request)
    client = request.client
    address = client.host if client else None
    old = getattr(request.state, "session", None)
    if old is not None:  # whatever session came in ends here: no fixation, no reuse
        await anyio.to_thread.run_sync(_end_session, request, old)
    outcome: SignIn = await anyio.to_thread.run_sync(
        sign_in, ctx.store(), name, password, address, utcnow()
    )
    if outcome.session_id is None or outcome.user is None:
        if outcome.locked_until is not None:
            request.state.audit_note = f"sign-in refused for {name!r}: locked"
            until = outcome.locked_until.astimezone(ctx.tz).strftime("%H:%M")
            return _login_page(
                request, 429, f"连续 {LOCK_AFTER} 次登录失败，已锁定至 {until}，请稍后再试。"
            )
        request.state.audit_note = f"sign-in failed for {name!r}"
        return _login_page(request, 401, "用户名或密码不正确。")
    request.state.user = outcome.user.name
    request.state.role = outcome.user.role
    request.state.audit_note = "signed in"
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        request.app.state.signer.sign(outcome.session_id),
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request) -> Response:
    """Sign out: the session ends on the server, the cookie is cleared."""
    session = getattr(request.state, "session", None)
    if session is not None:
        _end_session(request, session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


def _end_session(request: Request, session_id: str) -> None:
    store = ctx_of(request).store()
    with store.transaction():
        store.end_session(digest(session_id))


@router.get("/api/audit", tags=["admin"])
def audit_log(
    request: Request,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
    who: Annotated[str | None, Query(max_length=200, description="Only this user's.")] = None,
) -> dict[str, Any]:
    """The audit log, newest first: every write (who, when, what, from where). Admins only."""
    require_admin(request)
    ctx = ctx_of(request)
    rows, total = ctx.store().audit_entries(limit=limit, offset=offset, who=who)
    return {
        "items": [audit_record(r, ctx.tz) for r in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }
