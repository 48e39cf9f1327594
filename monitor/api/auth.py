"""Bearer-token auth for every endpoint, a cookie for browsers, and a log filter for tokens.

Rules:
- `api.token` set: every request needs `Authorization: Bearer <token>`. A browser
  may instead open any dashboard page once with `?token=<token>`: the answer is a
  redirect to the same page without it that sets an HttpOnly cookie, which then
  authorizes reads (GET/HEAD) only. Writes always need the header, so the cookie
  cannot be abused by a cross-site form (CSRF).
- `api.token` unset: reads are open (bind to loopback), writes are refused (403).

Tokens are compared with `hmac.compare_digest`; the cookie holds an HMAC of the
token, never the token itself; `?token=` is scrubbed from access logs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from monitor.api.errors import error_response

COOKIE_NAME = "monitor_session"
COOKIE_MAX_AGE_S = 30 * 24 * 3600
READ_METHODS = frozenset({"GET", "HEAD"})


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

    def __init__(self, app: ASGIApp, token: str | None):
        self.app = app
        self._token = token or None
        self._cookie = cookie_value(token) if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        is_read = method in READ_METHODS
        if self._token is None:
            if is_read:
                await self.app(scope, receive, send)
                return
            await self._deny(
                scope, receive, send, 403, "writes are refused: no api.token is configured"
            )
            return
        headers = Headers(scope=scope)
        bearer = _bearer(headers)
        if bearer is not None:
            if _same(bearer, self._token):
                await self.app(scope, receive, send)
                return
            await self._deny(scope, receive, send, 401, "invalid bearer token")
            return
        if not is_read:
            await self._deny(
                scope, receive, send, 401, "writes need an Authorization: Bearer header"
            )
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = [v for k, v in query if k == "token"]
        if given:
            if _same(given[-1], self._token):
                await self._login(scope, receive, send, query)
                return
            await self._deny(scope, receive, send, 401, "invalid token")
            return
        if _same(_cookie(headers), self._cookie or ""):
            await self.app(scope, receive, send)
            return
        await self._deny(scope, receive, send, 401, "authentication required")

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


def same_site(path: str) -> str:
    """`path` as a redirect target on this site: one leading slash, never `//host` or `/\\host`.

    A request for `//evil.example/x?token=...` must not send the browser to
    evil.example (browsers read `//` and `/\\` as the start of another host).
    """
    return "/" + path.lstrip("/\\")


def _cookie(headers: Headers) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE_NAME:
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
