"""A Content-Security-Policy on every HTML page the app serves.

The dashboard is server-rendered and has no JavaScript: its pages may load
nothing but their own inline styles and images from this origin. The API docs
(monitor.api.docs) run scripts from this origin and the hashes of their inline
scripts, and set their own header. Roster and platform text is escaped by the
templates already; the policy is the second wall should an escape ever be
missed, and `frame-ancestors` keeps the pages out of other sites' frames.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP_HEADER = "Content-Security-Policy"

_COMMON = "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
PAGE_POLICY = (
    f"default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; {_COMMON}"
)


def docs_policy(script_hashes: Iterable[str]) -> str:
    """The policy of an API docs page whose inline scripts have these sha256 hashes."""
    scripts = " ".join(["'self'", *(f"'{h}'" for h in script_hashes)])
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        f"worker-src 'self' blob:; {_COMMON}"
    )


class ContentSecurityPolicy:
    """Pure ASGI middleware: adds PAGE_POLICY to HTML responses that have no policy of their own."""

    def __init__(self, app: ASGIApp, policy: str = PAGE_POLICY):
        self.app = app
        self._header = (CSP_HEADER.lower().encode(), policy.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower(): value for name, value in headers}
                is_html = names.get(b"content-type", b"").lower().startswith(b"text/html")
                if is_html and self._header[0] not in names:
                    headers.append(self._header)
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_policy)
