"""The `feed` source: an RSS/Atom or JSON feed (RSSHub, WeWe RSS, wechat2rss, a site's own).

Latest post = max of the entries' published/updated times, never the channel's
`lastBuildDate` (an empty feed still carries a fresh one). A time written without
a zone is the configured zone's wall time (see `adapters.feed_dates`). Feeds from
bridges break often, so anything short of dated entries is a failed check, never
silence. JSON Feed (`version` https://jsonfeed.org/version/1 or 1.1) is read by
hand: the installed feedparser does not know it.

Outbound safety: the URL and every redirect hop (at most 5, followed by hand) go
through `ctx.url_guard` when set, else a `netguard.UrlGuard(ctx.settings)`.

State kept: `etag`, `last_modified` (for conditional GET) and the last evidence
`latest_post_at` (ISO), `post_id`, `post_url`, `post_title`, repeated on a 304.
"""

from __future__ import annotations

import inspect
import json
import xml.sax
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urljoin

import feedparser

from adapters._http import (
    Fetched,
    FetchFailure,
    fetch,
    looks_like_html,
    looks_like_login,
    status_outcome,
)
from adapters._http import retry_after as parse_retry_after
from adapters.base import AdapterContext, CheckResult, CheckTarget, Manifest, failed, observation
from adapters.feed_dates import entry_time, read_time
from adapters.netguard import UrlGuard, refusal_message
from monitor.messages import Message, message
from monitor.models import MessageCode as C
from monitor.models import Outcome

SOURCE = "feed"
MANIFEST = Manifest(
    name=SOURCE,
    label="RSS 订阅",
    priority=30,
    platforms=("*",),
    needs=("feed_url",),
    aliases=("rss", "atom", "订阅", "RSS订阅"),
    max_concurrent=5,
    rate_per_s=5.0,  # per host
    backoff_by="host",
)
MAX_REDIRECTS = 5
TITLE_CHARS = 200
JSON_FEED_VERSION = "https://jsonfeed.org/version/"
Fail = Callable[..., CheckResult]


@dataclass(frozen=True, slots=True)
class _Entry:
    """One feed item as the adapter needs it, whatever the feed format."""

    when: datetime | None
    id: str | None
    url: str | None
    title: str | None


class FeedAdapter:
    """Reads the newest entry date of an RSS/Atom feed."""

    name = SOURCE

    async def check(self, target: CheckTarget, ctx: AdapterContext) -> CheckResult:
        now = ctx.clock()
        try:
            return await _check(target, ctx, now)
        except Exception as exc:  # last-resort funnel: an adapter never raises
            return failed(
                target,
                ctx,
                SOURCE,
                Outcome.PARSE_ERROR,
                message(C.FEED_UNEXPECTED, error_type=type(exc).__name__, error=str(exc)),
                observed_at=now,
            )


ADAPTER = FeedAdapter


async def _check(target: CheckTarget, ctx: AdapterContext, now: datetime) -> CheckResult:
    def fail(outcome: Outcome, detail: Message, **kw: Any) -> CheckResult:
        return failed(target, ctx, SOURCE, outcome, detail, observed_at=now, **kw)

    url = target.feed_url.strip()
    if not url:
        return fail(Outcome.PARSE_ERROR, message(C.FEED_NO_URL))
    got = await _fetch_guarded(url, _conditional_headers(target.state), ctx)
    if isinstance(got, Message):
        return fail(Outcome.REFUSED, got)
    if isinstance(got, FetchFailure):
        if got.refused:
            return fail(Outcome.REFUSED, got.detail)
        return fail(Outcome.PARSE_ERROR if got.invalid_url else Outcome.TRANSIENT, got.detail)
    status = got.status
    if status == 304:
        return _not_modified(target, now, fail)
    outcome = status_outcome(status)
    if outcome is Outcome.RATE_LIMITED:
        return fail(
            Outcome.RATE_LIMITED,
            message(C.FEED_HTTP, status=status),
            retry_after=parse_retry_after(got.headers, now),
        )
    if outcome is Outcome.TRANSIENT:
        return fail(Outcome.TRANSIENT, message(C.FEED_HTTP, status=status), body=got.body)
    if status in (404, 410):
        # For a bridge (RSSHub, WeWe RSS, ...) a 404 usually means a broken route or a
        # lost subscription, not a deleted account: a broken source, never evidence.
        return fail(
            Outcome.PARSE_ERROR, message(C.FEED_ROUTE_MISSING, status=status), body=got.body
        )
    if outcome is Outcome.AUTH_ERROR:
        return fail(outcome, message(C.FEED_WANTS_CREDENTIALS, status=status), body=got.body)
    if outcome is not None:
        return fail(outcome, message(C.FEED_ACCESS_REFUSED, status=status), body=got.body)
    if status != 200:
        return fail(
            Outcome.PARSE_ERROR, message(C.FEED_UNEXPECTED_STATUS, status=status), body=got.body
        )
    if got.too_large:
        cap = ctx.settings.http.max_body_bytes
        return fail(Outcome.PARSE_ERROR, message(C.FEED_TOO_LARGE, cap=cap))
    return _parse(target, ctx, now, got, fail)


async def _fetch_guarded(
    url: str, headers: dict[str, str], ctx: AdapterContext
) -> Fetched | FetchFailure | Message:
    """GET with redirects followed by hand; a Message is the guard's refusal."""
    guard = ctx.url_guard or UrlGuard(ctx.settings)
    http = ctx.settings.http
    current = url
    for hop in range(MAX_REDIRECTS + 1):
        reason = guard(current)
        if inspect.isawaitable(reason):
            reason = await reason
        if reason:
            refusal = refusal_message(reason)
            if hop == 0:
                return refusal
            return message(C.FEED_REDIRECT_REFUSED, hop=hop, url=current, reason=refusal)
        got = await fetch(
            ctx.http,
            current,
            headers={"User-Agent": http.user_agent, **headers},
            timeout=http.timeout_s,
            max_bytes=http.max_body_bytes,
        )
        if isinstance(got, FetchFailure) or got.status not in (301, 302, 303, 307, 308):
            return got
        location = got.headers.get("location")
        if not location:
            return FetchFailure(message(C.FEED_REDIRECT_NO_LOCATION, status=got.status))
        current = urljoin(current, location)
    return FetchFailure(message(C.FEED_TOO_MANY_REDIRECTS, max=MAX_REDIRECTS, url=current))


def _conditional_headers(state: dict[str, Any]) -> dict[str, str]:
    """If-None-Match / If-Modified-Since, only when a stored post can answer a 304."""
    if not state.get("latest_post_at"):
        return {}
    out = {}
    if state.get("etag"):
        out["If-None-Match"] = str(state["etag"])
    if state.get("last_modified"):
        out["If-Modified-Since"] = str(state["last_modified"])
    return out


def _not_modified(target: CheckTarget, now: datetime, fail: Fail) -> CheckResult:
    state = dict(target.state)
    try:
        latest = datetime.fromisoformat(str(state["latest_post_at"]))
    except (KeyError, ValueError):
        return fail(Outcome.PARSE_ERROR, message(C.FEED_304_NOTHING_STORED))
    obs = observation(
        target,
        now,
        SOURCE,
        Outcome.OK,
        message(C.FEED_NOT_MODIFIED),
        latest_post_at=latest,
        post_id=state.get("post_id"),
        post_url=state.get("post_url"),
        post_title=state.get("post_title"),
    )
    return CheckResult(obs, state)


def _parse(
    target: CheckTarget,
    ctx: AdapterContext,
    now: datetime,
    got: Fetched,
    fail: Fail,
) -> CheckResult:
    if looks_like_html(got.body):
        if looks_like_login(got.text):
            return fail(Outcome.BLOCKED, message(C.FEED_LOGIN_PAGE), body=got.body)
        return fail(Outcome.PARSE_ERROR, message(C.FEED_HTML_PAGE), body=got.body)
    tz = ctx.settings.tz
    entries = _json_feed_entries(got.body, tz) if _looks_like_json(got.body) else None
    if isinstance(entries, Message):
        return fail(Outcome.PARSE_ERROR, entries, body=got.body)
    if entries is None:
        parsed = feedparser.parse(got.body)
        if not parsed.get("version") and not parsed.entries:
            why = parsed.get("bozo_exception")
            detail = (
                message(C.FEED_NOT_A_FEED, error_type=type(why).__name__)
                if why
                else message(C.FEED_UNKNOWN_FORMAT)
            )
            return fail(Outcome.PARSE_ERROR, detail, body=got.body)
        broken = parsed.get("bozo_exception")
        if isinstance(broken, xml.sax.SAXParseException):
            # A cut-off or mangled feed may still yield some entries, but not necessarily
            # the newest: judging from it could invent a silence.
            return fail(
                Outcome.PARSE_ERROR,
                message(C.FEED_NOT_WELL_FORMED, error=str(broken)),
                body=got.body,
            )
        entries = [
            _Entry(
                entry_time(e, tz),
                e.get("id") or e.get("link") or None,
                e.get("link") or None,
                _title(e.get("title")),
            )
            for e in parsed.entries
        ]
    if not entries:
        return fail(Outcome.PARSE_ERROR, message(C.FEED_NO_ENTRIES), body=got.body)
    dated = [(e.when, e) for e in entries if e.when is not None]
    if not dated:
        return fail(
            Outcome.PARSE_ERROR, message(C.FEED_NO_DATES, entries=len(entries)), body=got.body
        )
    when, entry = max(dated, key=lambda pair: pair[0])
    latest = when.astimezone(tz)
    evidence = {
        "latest_post_at": latest.isoformat(),
        "post_id": entry.id,
        "post_url": entry.url,
        "post_title": entry.title,
    }
    state = {k: v for k, v in evidence.items() if v is not None}
    if got.headers.get("etag"):
        state["etag"] = got.headers["etag"]
    if got.headers.get("last-modified"):
        state["last_modified"] = got.headers["last-modified"]
    obs = observation(
        target,
        now,
        SOURCE,
        Outcome.OK,
        message(C.FEED_ENTRIES, entries=len(entries), dated=len(dated)),
        latest_post_at=latest,
        post_id=entry.id,
        post_url=entry.url,
        post_title=entry.title,
    )
    return CheckResult(obs, state)


def _title(value: Any) -> str | None:
    return " ".join(str(value or "").split())[:TITLE_CHARS] or None


def _looks_like_json(body: bytes) -> bool:
    return body.lstrip().removeprefix(b"\xef\xbb\xbf").startswith(b"{")


def _json_feed_entries(body: bytes, tz: tzinfo) -> list[_Entry] | Message:
    """A JSON Feed's items, or why the JSON is not one (a Message)."""
    try:
        feed = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        return message(C.FEED_BAD_JSON, error=str(exc))
    version = feed.get("version") if isinstance(feed, dict) else None
    if not isinstance(version, str) or not version.startswith(JSON_FEED_VERSION):
        return message(C.FEED_NOT_JSON_FEED)
    items = feed.get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return message(C.FEED_JSON_NO_ITEMS)
    entries = []
    for item in items:
        times = [
            when
            for key in ("date_published", "date_modified")
            if (when := read_time(item.get(key), None, tz))
        ]
        url = item.get("url") if isinstance(item.get("url"), str) else None
        ident = item.get("id")
        entries.append(
            _Entry(
                max(times) if times else None,
                str(ident) if ident not in (None, "") else url,
                url or None,
                _title(item.get("title") or item.get("content_text")),
            )
        )
    return entries
