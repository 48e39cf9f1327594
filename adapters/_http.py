"""HTTP helpers shared by the polling adapters: capped GETs, Retry-After, body sniffing.

Adapters GET through an `HttpGetter`: `HttpxGetter` over an httpx client, built by
`adapters.transport.http_client` (guarded in production, an injected transport in
tests). It answers with a `Fetched` or a `FetchFailure` value, so adapters branch on
data, never on exception types. `post_form` is the one POST an adapter needs (the
Weibo visitor cookie).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from adapters.netguard import GuardRefusal, refusal_message
from monitor.messages import Message, message
from monitor.models import MessageCode as C
from monitor.models import Outcome


@dataclass(frozen=True, slots=True)
class Fetched:
    """A response read in full (up to the byte cap)."""

    url: str
    status: int
    headers: Mapping[str, str]  # any-case lookup (httpx.Headers)
    body: bytes
    too_large: bool = False

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class FetchFailure:
    """The request never produced a response; `invalid_url` marks a bad URL, not a network fault.

    `refused`: the outbound guard refused the address the name resolved to at connect time.
    """

    detail: Message
    invalid_url: bool = False
    refused: bool = False


class HttpGetter(Protocol):
    """What adapters GET (and, rarely, POST a form) through."""

    async def get(
        self, url: str, *, headers: dict[str, str] | None, timeout: float, max_bytes: int
    ) -> Fetched | FetchFailure: ...

    async def post_form(
        self,
        url: str,
        form: dict[str, str],
        *,
        headers: dict[str, str] | None,
        timeout: float,
        max_bytes: int,
    ) -> Fetched | FetchFailure: ...

    async def aclose(self) -> None: ...


class HttpxGetter:
    """GETs through an httpx client (and whatever transport it was given)."""

    def __init__(self, client: httpx.AsyncClient):
        self.client = client

    async def get(
        self, url: str, *, headers: dict[str, str] | None, timeout: float, max_bytes: int
    ) -> Fetched | FetchFailure:
        """GET `url` without following redirects, reading at most `max_bytes` of the body."""
        return await self._send("GET", url, None, headers, timeout, max_bytes)

    async def head(
        self, url: str, *, headers: dict[str, str] | None, timeout: float
    ) -> Fetched | FetchFailure:
        """HEAD `url` without following redirects (link checks: no body is read)."""
        return await self._send("HEAD", url, None, headers, timeout, 0)

    async def post_form(
        self,
        url: str,
        form: dict[str, str],
        *,
        headers: dict[str, str] | None,
        timeout: float,
        max_bytes: int,
    ) -> Fetched | FetchFailure:
        """POST `form` URL-encoded to `url`, as `get` does otherwise."""
        return await self._send("POST", url, form, headers, timeout, max_bytes)

    async def _send(
        self,
        method: str,
        url: str,
        form: dict[str, str] | None,
        headers: dict[str, str] | None,
        timeout: float,
        max_bytes: int,
    ) -> Fetched | FetchFailure:
        # `timeout` bounds the whole exchange, not only each read: a server trickling
        # bytes cannot hold a check for longer.
        try:
            async with asyncio.timeout(timeout):
                return await self._exchange(method, url, form, headers, timeout, max_bytes)
        except (TimeoutError, httpx.TimeoutException) as exc:
            return FetchFailure(
                message(C.HTTP_TIMEOUT, seconds=f"{timeout:g}", error_type=type(exc).__name__)
            )
        except GuardRefusal as exc:
            return FetchFailure(refusal_message(exc.reason), refused=True)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            return FetchFailure(message(C.INVALID_URL, error=str(exc)), invalid_url=True)
        except (httpx.HTTPError, OSError) as exc:  # OSError: some transports, outside httpx
            return FetchFailure(connection_failed(exc))

    async def _exchange(
        self,
        method: str,
        url: str,
        form: dict[str, str] | None,
        headers: dict[str, str] | None,
        timeout: float,
        max_bytes: int,
    ) -> Fetched:
        async with self.client.stream(
            method, url, data=form, headers=headers, timeout=timeout, follow_redirects=False
        ) as resp:
            chunks: list[bytes] = []
            size = 0
            too_large = False
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    too_large = True
                    chunks.append(chunk[: max(0, max_bytes - (size - len(chunk)))])
                    break
                chunks.append(chunk)
            return Fetched(
                str(resp.url), resp.status_code, resp.headers, b"".join(chunks), too_large
            )

    async def aclose(self) -> None:
        await self.client.aclose()


def connection_failed(exc: BaseException) -> Message:
    """The detail of a connection that failed with `exc`."""
    return message(C.CONNECTION_FAILED, error_type=type(exc).__name__, error=str(exc))


async def fetch(
    client: httpx.AsyncClient | HttpGetter,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: float,
    max_bytes: int,
) -> Fetched | FetchFailure:
    """GET `url` through `client` (a getter, or a bare httpx client as tests build them)."""
    return await _getter(client).get(url, headers=headers, timeout=timeout, max_bytes=max_bytes)


async def post_form(
    client: httpx.AsyncClient | HttpGetter,
    url: str,
    form: dict[str, str],
    *,
    headers: dict[str, str] | None = None,
    timeout: float,
    max_bytes: int,
) -> Fetched | FetchFailure:
    """POST a URL-encoded form through `client`, as `fetch` GETs."""
    return await _getter(client).post_form(
        url, form, headers=headers, timeout=timeout, max_bytes=max_bytes
    )


def _getter(client: httpx.AsyncClient | HttpGetter) -> HttpGetter:
    return HttpxGetter(client) if isinstance(client, httpx.AsyncClient) else client


# What an HTTP status says, whoever answers: one table for every adapter. 200, redirects
# and 404 mean different things per platform and are the adapter's to read.
STATUS_OUTCOMES: dict[int, Outcome] = {
    401: Outcome.AUTH_ERROR,  # credentials wanted (Weibo reads it as its login wall)
    403: Outcome.BLOCKED,
    408: Outcome.TRANSIENT,
    410: Outcome.PARSE_ERROR,  # the endpoint or route is gone: a broken source, not evidence
    418: Outcome.RATE_LIMITED,  # Weibo's anti-crawler answer
    429: Outcome.RATE_LIMITED,
    432: Outcome.RATE_LIMITED,  # Weibo, as 418
}


def status_outcome(status: int) -> Outcome | None:
    """The failed outcome an HTTP status means for every source; None: the adapter decides."""
    if status >= 500:
        return Outcome.TRANSIENT
    return STATUS_OUTCOMES.get(status)


def retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def looks_like_html(body: bytes) -> bool:
    """True when the body is an HTML page (a login wall or an error page), not data."""
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:200]


_LOGIN_MARKERS = (
    "登录",
    "login",
    "passport",
    "signin",
    "sign in",
    "password",
    "验证码",
    "captcha",
    "访问受限",
)


def looks_like_login(text: str) -> bool:
    """True when an HTML page looks like a login, captcha or access wall."""
    lower = text.lower()
    return any(marker in lower for marker in _LOGIN_MARKERS)
