"""Who is asking: API tokens, the dashboard's sessions, CSRF, and the audit of every write.

Rules:
- `Authorization: Bearer <token>`: the configured `api.token` (an admin), or a user's
  token from `monitor users token` (stored as a digest). No CSRF check: a browser
  never sends this header by itself.
- A signed session cookie from the sign-in form (`/login`): HttpOnly, SameSite=Lax,
  a new random id at every sign-in (no fixation), stored as a digest and ended by
  `/logout` or `monitor users disable`. Every write through it needs the session's
  CSRF token (form field `csrf_token`, or header `X-CSRF-Token`).
- With `api.token` set, a browser may also open any page once with `?token=<token>`:
  a redirect without it sets a cookie that authorizes reads (GET/HEAD) only.
- Neither `api.token` nor any user: reads are open (bind to loopback), writes are refused.
  Once a user exists, every request needs one of the above.

Authentication fills `scope["state"]`: `user`, `role`, and `units` (a frozenset of
unit names for a unit user; unset for office, admin and `api.token`), read by
`monitor.api.scope.unit_scope`. Every request that is not a read is written to the
audit log after it is answered (who, role, address, method and path, status).
Tokens are compared with `hmac.compare_digest`; `?token=` is scrubbed from access logs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

import anyio
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.api.context import ApiContext
from monitor.api.errors import error_response, is_api_path
from monitor.api.sessions import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    CookieSigner,
)
from monitor.credentials import digest, new_secret
from monitor.dates import utcnow
from monitor.store import SessionRow, UserRow

log = logging.getLogger(__name__)

COOKIE_NAME = "monitor_session"
COOKIE_MAX_AGE_S = 30 * 24 * 3600
READ_METHODS = frozenset({"GET", "HEAD"})
# Answered without a session: the sign-in form (with its own CSRF cookie) and the icon.
PUBLIC_PATHS = frozenset({"/login", "/favicon.ico"})
# Who `api.token` is, in request state and the audit log.
TOKEN_USER = "api.token"
MAX_FORM_BYTES = 1_000_000


def cookie_value(token: str) -> str:
    """What the cookie holds: derived from the token, useless elsewhere, not the token."""
    return hmac.new(token.encode(), b"monitor-dashboard-cookie", hashlib.sha256).hexdigest()


def _same(given: str | None, expected: str) -> bool:
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def _bearer(headers: Headers) -> str | None:
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


class AuthMiddleware:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware on every request)."""

    def __init__(self, app: ASGIApp, token: str | None, ctx: ApiContext, signer: CookieSigner):
        self.app = app
        self._token = token or None
        self._cookie = cookie_value(token) if token else None
        self._ctx = ctx
        self._signer = signer
        self._users_known: tuple[tuple[int, ...], bool] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Pages render `request.state.csrf_token` in their forms: always present, empty
        # when no session can write through a form (bearer, open reads, ?token= cookie).
        scope.setdefault("state", {}).setdefault("csrf_token", "")
        if scope["method"] in READ_METHODS:
            await self._authenticate(scope, receive, send)
            return
        # Not a read: answer it, then write who did what to the audit log.
        answered: dict[str, int] = {}

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = int(message["status"])
            await send(message)

        try:
            await self._authenticate(scope, receive, send_status)
        finally:
            with anyio.CancelScope(shield=True):  # a client gone early is still audited
                await anyio.to_thread.run_sync(self._audit, scope, answered.get("status"))

    def _audit(self, scope: Scope, status: int | None) -> None:
        state = scope["state"]
        detail: dict[str, Any] = {}
        if scope.get("query_string"):
            query = _TOKEN_IN_QUERY.sub(r"\1***", "?" + scope["query_string"].decode("latin-1"))
            detail["query"] = query[1:]
        if state.get("audit_note"):
            detail["note"] = state["audit_note"]
        try:
            store = self._ctx.store()
            with store.transaction():
                store.audit(
                    utcnow(),
                    state.get("user") or "-",
                    f"{scope['method']} {scope['path']}",
                    role=state.get("role"),
                    address=_address(scope),
                    status=status,
                    detail=detail,
                )
        except Exception:  # the answer is sent; a lost entry must at least be in the log
            log.exception(
                "could not write the audit entry for %s %s", scope["method"], scope["path"]
            )

    async def _authenticate(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_read = scope["method"] in READ_METHODS
        headers = Headers(scope=scope)
        bearer = _bearer(headers)
        # The sign-in form is a browser's: it always gets its CSRF token, header or not.
        if bearer is not None and scope["path"] not in PUBLIC_PATHS:
            await self._by_bearer(scope, receive, send, bearer)
            return
        session_id = self._signer.unsign(_cookie(headers, SESSION_COOKIE))
        session = None
        if session_id is not None:
            session = await anyio.to_thread.run_sync(self._session, session_id)
        if session is not None:
            _identify(scope, session.user.name, session.user.role, session.user.units)
            scope["state"]["session"] = session_id
            scope["state"]["csrf_token"] = session.csrf
            if not is_read:
                checked = await self._check_csrf(scope, receive, send, session.csrf)
                if checked is None:
                    return
                receive = checked
            await self.app(scope, receive, send)
            return
        if scope["path"] in PUBLIC_PATHS:
            await self._public(scope, receive, send, headers)
            return
        if self._token is None and not await self._has_users():
            await self._open(scope, receive, send)
            return
        if not is_read:
            await self._deny(
                scope, receive, send, 401, "writes need an Authorization: Bearer header"
            )
            return
        if self._token is not None:
            query = parse_qsl(
                scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
            )
            given = [v for k, v in query if k == "token"]
            if given:
                if _same(given[-1], self._token):
                    await self._login(scope, receive, send, query)
                    return
                await self._deny(scope, receive, send, 401, "invalid token")
                return
            if _same(_cookie(headers, COOKIE_NAME), self._cookie or ""):
                _identify(scope, TOKEN_USER, "admin", None)
                await self.app(scope, receive, send)
                return
        if not is_api_path(scope["path"]) and await self._has_users():
            from starlette.responses import RedirectResponse

            await RedirectResponse("/login", status_code=303)(scope, receive, send)
            return
        await self._deny(scope, receive, send, 401, "authentication required")

    async def _by_bearer(self, scope: Scope, receive: Receive, send: Send, bearer: str) -> None:
        if self._token is not None and _same(bearer, self._token):
            _identify(scope, TOKEN_USER, "admin", None)
            await self.app(scope, receive, send)
            return
        user = await anyio.to_thread.run_sync(self._token_user, bearer)
        if user is None:
            if self._token is None and not await self._has_users():
                # Nothing to sign in to: the header means nothing, as before users existed.
                await self._open(scope, receive, send)
                return
            await self._deny(scope, receive, send, 401, "invalid bearer token")
            return
        _identify(scope, user.name, user.role, user.units)
        await self.app(scope, receive, send)

    async def _open(self, scope: Scope, receive: Receive, send: Send) -> None:
        """No api.token and no user: reads are open (loopback), writes are refused."""
        if scope["method"] in READ_METHODS:
            await self.app(scope, receive, send)
            return
        await self._deny(
            scope, receive, send, 403, "writes are refused: no api.token is configured"
        )

    async def _public(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        """The sign-in page: no session yet, so its CSRF token is a signed cookie of its own."""
        known = self._signer.unsign(_cookie(headers, CSRF_COOKIE))
        csrf = known or new_secret()
        scope["state"]["csrf_token"] = csrf
        if scope["method"] not in READ_METHODS:
            checked = await self._check_csrf(scope, receive, send, known)
            if checked is None:
                return
            receive = checked
        if known is not None:
            await self.app(scope, receive, send)
            return
        cookie = _set_cookie_header(CSRF_COOKIE, self._signer.sign(csrf), scope, None)

        async def send_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), cookie]
            await send(message)

        await self.app(scope, receive, send_cookie)

    async def _check_csrf(
        self, scope: Scope, receive: Receive, send: Send, expected: str | None
    ) -> Receive | None:
        """The request's receive (its body replayed) when its CSRF token is right; else None."""
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_FORM_BYTES:
                await self._deny(scope, receive, send, 413, "request body too large")
                return None
            if not message.get("more_body", False):
                break
        sent = False

        # Forms are urlencoded (the dashboard's); other bodies carry the header.
        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        headers = Headers(scope=scope)
        given = headers.get(CSRF_HEADER)
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if given is None and kind == "application/x-www-form-urlencoded":
            fields = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            given = next((v for k, v in fields if k == CSRF_FIELD), None)
        if expected is None or not _same(given, expected):
            scope["state"]["audit_note"] = "refused: CSRF token missing or wrong"
            await self._deny(
                scope, receive, send, 403, "the form's CSRF token is missing or wrong; reload it"
            )
            return None
        return replay

    def _session(self, session_id: str) -> SessionRow | None:
        return self._ctx.store().session(digest(session_id), utcnow())

    def _token_user(self, token: str) -> UserRow | None:
        return self._ctx.store().user_by_token(digest(token))

    async def _has_users(self) -> bool:
        """Whether any active user exists; asked again only when the database has changed."""
        version = self._ctx.data_version()
        known = self._users_known
        if known is not None and known[0] == version:
            return known[1]
        found = await anyio.to_thread.run_sync(lambda: self._ctx.store().has_active_users())
        self._users_known = (version, found)
        return found

    async def _login(
        self, scope: Scope, receive: Receive, send: Send, query: list[tuple[str, str]]
    ) -> None:
        """Set the cookie and redirect to the same URL without the token (out of history)."""
        from starlette.responses import RedirectResponse

        rest = urlencode([(k, v) for k, v in query if k != "token"])
        target = same_site(scope.get("root_path", "") + scope["path"]) + (
            f"?{rest}" if rest else ""
        )
        response = RedirectResponse(target, status_code=303)
        assert self._cookie is not None
        response.set_cookie(
            COOKIE_NAME,
            self._cookie,
            max_age=COOKIE_MAX_AGE_S,
            httponly=True,
            samesite="lax",
            secure=scope.get("scheme") == "https",
            path="/",
        )
        await response(scope, receive, send)

    async def _deny(
        self, scope: Scope, receive: Receive, send: Send, status: int, message: str
    ) -> None:
        request = Request(scope, receive)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        response = error_response(request, status, message, headers=headers)
        await response(scope, receive, send)


def _identify(scope: Scope, user: str, role: str, units: tuple[str, ...] | None) -> None:
    state = scope["state"]
    state["user"] = user
    state["role"] = role
    if role == "unit":
        state["units"] = frozenset(units or ())


def _address(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _set_cookie_header(
    name: str, value: str, scope: Scope, max_age: int | None
) -> tuple[bytes, bytes]:
    """A Set-Cookie header: HttpOnly, SameSite=Lax, Secure over https."""
    parts = [f"{name}={value}", "HttpOnly", "SameSite=Lax", "Path=/"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if scope.get("scheme") == "https":
        parts.append("Secure")
    return (b"set-cookie", "; ".join(parts).encode("latin-1"))


def same_site(path: str) -> str:
    """`path` as a redirect target on this site: one leading slash, never `//host` or `/\\host`.

    A request for `//evil.example/x?token=...` must not send the browser to
    evil.example (browsers read `//` and `/\\` as the start of another host).
    """
    return "/" + path.lstrip("/\\")


def _cookie(headers: Headers, wanted: str) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        name, _, value = part.strip().partition("=")
        if name == wanted:
            return value
    return None


_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s\"]*")


class RedactTokenFilter(logging.Filter):
    """Scrubs `token=...` from access-log lines (uvicorn logs the full path with query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args: Any = record.args
        if isinstance(args, tuple):
            record.args = tuple(
                _TOKEN_IN_QUERY.sub(r"\1***", a) if isinstance(a, str) else a for a in args
            )
        elif isinstance(record.msg, str):
            record.msg = _TOKEN_IN_QUERY.sub(r"\1***", record.msg)
        return True


def install_log_redaction() -> None:
    """Add the filter to uvicorn's access logger once."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokenFilter) for f in logger.filters):
        logger.addFilter(RedactTokenFilter())
