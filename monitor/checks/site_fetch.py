"""Fetching government websites politely: robots.txt, a rate per host, the guard, a byte cap.

`SiteFetcher.get(url)` answers a `PageFetch` whatever happened (never raises for
what a site does); a failed fetch says why as a `Message` (a code worded zh/en). Redirects are followed (at most 5), each hop judged by the
outbound guard and by the target's robots.txt. robots.txt is read with
`urllib.robotparser` (the standard library's maintained parser) once per origin
and fetcher; as RFC 9309 says, a robots.txt that answers 4xx allows everything,
one that cannot be fetched (5xx, network failure) disallows everything, so an
unreachable site is a failed check, never a crawl around its rules.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from adapters._http import Fetched, FetchFailure, HttpxGetter
from adapters.netguard import UrlGuard
from adapters.site_page import decode_page
from adapters.transport import http_client
from monitor.checks.pacing import Pacer
from monitor.messages import Message, message
from monitor.models import MessageCode as C
from monitor.settings import Settings

MAX_REDIRECTS = 5
ROBOTS_MAX_BYTES = 512 * 1024
ROBOTS_AGENT = "newmedia-monitor"


@dataclass(frozen=True, slots=True)
class PageFetch:
    """One fetch: `ok` means a 2xx page read (its `text` decoded); else `detail` says why.

    `reachable` is True when the host answered below 500, False when it did not answer
    or answered 5xx, None when the fetch was not attempted (robots.txt, the guard).
    """

    url: str
    ok: bool
    reachable: bool | None
    status: int | None = None
    text: str = ""
    encoding: str | None = None
    detail: Message | None = None
    # Where the page was read after redirects: relative links resolve against it.
    final_url: str | None = None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class SiteFetcher:
    """Guarded, paced, robots-respecting GETs of website pages. Use as an async context manager."""

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        self.sites = settings.sites
        self._guard = UrlGuard(settings)
        self._transport = transport
        self._getter: HttpxGetter | None = None
        self._pacers: dict[str, Pacer] = {}
        self._robots: dict[str, RobotFileParser | None] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}

    async def __aenter__(self) -> SiteFetcher:
        getter = http_client(
            timeout_s=self.sites.timeout_s,
            user_agent=self.settings.http.user_agent,
            judge=self._guard.peer_reason,
            transport=self._transport,
        )
        assert isinstance(getter, HttpxGetter)
        self._getter = getter
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._getter is not None:
            await self._getter.aclose()

    async def _paced(self, url: str) -> None:
        host = urlsplit(url).netloc.lower()
        pacer = self._pacers.get(host)
        if pacer is None:
            pacer = self._pacers[host] = Pacer(self.sites.rate_per_s)
        await pacer.wait()

    async def _send(self, url: str, method: str) -> Fetched | FetchFailure:
        assert self._getter is not None, "use SiteFetcher as an async context manager"
        await self._paced(url)
        if method == "HEAD":
            return await self._getter.head(url, headers=None, timeout=self.sites.timeout_s)
        return await self._getter.get(
            url, headers=None, timeout=self.sites.timeout_s, max_bytes=self.sites.max_page_bytes
        )

    async def _robots_for(self, url: str) -> RobotFileParser | None:
        """The origin's robots rules; None when robots.txt could not be fetched (disallow)."""
        origin = _origin(url)
        if origin in self._robots:
            return self._robots[origin]
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:
            if origin in self._robots:
                return self._robots[origin]
            got = await self._send(f"{origin}/robots.txt", "GET")
            if isinstance(got, FetchFailure) or got.status >= 500:
                self._robots[origin] = None
                return None
            parser = RobotFileParser()
            if got.status >= 300:
                parser.parse([])  # 4xx (or a redirect we do not follow): no rules, all allowed
            else:
                parser.parse(got.body[:ROBOTS_MAX_BYTES].decode("utf-8", "replace").splitlines())
            self._robots[origin] = parser
            return parser

    async def _allowed(self, url: str) -> Message | None:
        """Why `url` must not be fetched (the guard, robots.txt), or None."""
        refused = await self._guard(url)
        if refused:
            return refused
        robots = await self._robots_for(url)
        if robots is None:
            return message(C.SITE_ROBOTS_UNREACHABLE)
        if not robots.can_fetch(ROBOTS_AGENT, url):
            return message(C.SITE_ROBOTS_DISALLOWS)
        return None

    async def get(self, url: str, *, method: str = "GET") -> PageFetch:
        """Fetch a page (following redirects); a failed fetch is a `PageFetch` with ok=False."""
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            reason = await self._allowed(current)
            if reason:
                return PageFetch(url, ok=False, reachable=None, detail=reason)
            got = await self._send(current, method)
            if isinstance(got, FetchFailure):
                reachable = None if got.refused or got.invalid_url else False
                return PageFetch(url, ok=False, reachable=reachable, detail=got.detail)
            location = got.headers.get("location")
            if 300 <= got.status < 400 and location:
                current = urljoin(current, location)
                continue
            if got.status >= 400:
                return PageFetch(
                    url,
                    ok=False,
                    reachable=got.status < 500,
                    status=got.status,
                    detail=message(C.SITE_HTTP, status=got.status),
                )
            if got.too_large:
                return PageFetch(
                    url,
                    ok=False,
                    reachable=True,
                    status=got.status,
                    detail=message(C.SITE_TOO_LARGE, cap=self.sites.max_page_bytes),
                )
            text, encoding = (
                ("", None)
                if method == "HEAD"
                else decode_page(got.body, got.headers.get("content-type"))
            )
            return PageFetch(
                url, ok=True, reachable=True, status=got.status, text=text, encoding=encoding
            )
        return PageFetch(
            url,
            ok=False,
            reachable=True,
            detail=message(C.SITE_TOO_MANY_REDIRECTS, max=MAX_REDIRECTS),
        )
