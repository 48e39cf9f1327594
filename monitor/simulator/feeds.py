"""RSSHub-style feeds: RSS 2.0 at /feed/{id}.xml, Atom at /feed/{id}.atom, JSON Feed at .json.

The channel's lastBuildDate / feed updated is always "now" (a trap: it is not a
post time). ETag and Last-Modified depend only on the items, so conditional
GETs answer 304 while nothing new was posted. With the account's `zoneless_dates`
entry times are Beijing wall time without a zone, as government CMS feeds write them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from xml.sax.saxutils import escape

from monitor.simulator.common import SHANGHAI, html_500, stable_int, stable_token, truncated
from monitor.simulator.http import Request, Response
from monitor.simulator.texts import title_for
from monitor.simulator.world import AccountState, World

RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_TYPE = "application/feed+json; charset=utf-8"
RETRY_AFTER_S = 60
EXTENSIONS = {"rss": ".xml", "atom": ".atom", "json": ".json"}

LOGIN_PAGE = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>登录</title></head>'
    '<body><form action="/login" method="post"><h1>请先登录</h1>'
    '<input name="username"><input name="password" type="password">'
    "<button>登录</button></form></body></html>"
).encode()
NOT_FOUND_PAGE = (
    b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>404</title></head>'
    b"<body><h1>Not Found</h1><p>This route does not exist or the account is gone.</p>"
    b"</body></html>"
)

_PROFILE = {
    "douyin": ("https://www.douyin.com/user/{id}", "{name}的抖音"),
    "toutiao": ("https://www.toutiao.com/c/user/{id}/", "{name} - 今日头条"),
    "bilibili": ("https://space.bilibili.com/{id}", "{name} 的 bilibili 空间"),
}


def feed_path(account_id: str, fmt: str = "rss") -> str:
    """The path a roster's feed_url names for this account."""
    return f"/feed/{account_id}{EXTENSIONS[fmt]}"


def rfc822(moment: datetime) -> str:
    """RSS pubDate in +0800, e.g. "Wed, 16 Jun 2021 21:22:47 +0800"."""
    return format_datetime(moment.astimezone(SHANGHAI))


def zoneless(moment: datetime, sep: str = " ") -> str:
    """Beijing wall time with no zone, e.g. "2016-04-05 08:54:33" (CMS feeds)."""
    return moment.astimezone(SHANGHAI).replace(tzinfo=None).isoformat(sep=sep)


def _entry_time(state: AccountState, moment: datetime, iso: bool) -> str:
    if state.account.zoneless_dates:
        return zoneless(moment, "T" if iso else " ")
    return moment.astimezone(SHANGHAI).isoformat() if iso else rfc822(moment)


def http_date(moment: datetime) -> str:
    """An HTTP date (GMT), as Last-Modified carries it."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _item_link(state: AccountState, moment: datetime) -> str:
    acc = state.account
    key = stable_int(acc.account_id, moment.timestamp(), "item")
    label = acc.platform_label or "feed"
    if label == "douyin":
        return f"https://www.douyin.com/video/{7_000_000_000_000_000_000 + key % 10**18}"
    if label == "toutiao":
        return f"https://www.toutiao.com/article/{7_000_000_000_000_000_000 + key % 10**18}/"
    if label == "bilibili":
        return f"https://www.bilibili.com/video/BV1{stable_token(key, length=9)}"
    return f"https://example.gov.cn/{acc.account_id}/{key % 10**8}.html"


def _channel(state: AccountState) -> tuple[str, str]:
    acc = state.account
    link, title = _PROFILE.get(acc.platform_label or "", ("", "{name}"))
    return (
        (link or "https://example.gov.cn/{id}").format(id=acc.account_id),
        title.format(name=acc.name),
    )


def _items(state: AccountState, posts: list[datetime], iso: bool) -> list[tuple[str, str, str]]:
    """(title, link, time as the feed writes it) of each post."""
    return [
        (title_for(state.account.account_id, p), _item_link(state, p), _entry_time(state, p, iso))
        for p in posts
    ]


def render_rss(state: AccountState, posts: list[datetime], now: datetime) -> bytes:
    """An RSS 2.0 document in RSSHub's layout."""
    link, title = _channel(state)
    items = [
        f"<item><title><![CDATA[{t}]]></title><description><![CDATA[<p>{t}</p>]]>"
        f'</description><pubDate>{stamp}</pubDate><guid isPermaLink="false">'
        f"{escape(url)}</guid><link>{escape(url)}</link>"
        f"<author><![CDATA[{state.account.name}]]></author></item>"
        for t, url, stamp in _items(state, posts, iso=False)
    ]
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss xmlns:atom="http://www.w3.org/2005/Atom" '
        'version="2.0"><channel>'
        f"<title><![CDATA[{title}]]></title><link>{escape(link)}</link>"
        f"<description><![CDATA[{title} - Powered by RSSHub]]></description>"
        "<generator>RSSHub</generator><webMaster>contact@rsshub.app (RSSHub)</webMaster>"
        f"<language>zh-cn</language><lastBuildDate>{http_date(now)}"
        f"</lastBuildDate><ttl>5</ttl>{''.join(items)}</channel></rss>"
    )
    return doc.encode()


def render_atom(state: AccountState, posts: list[datetime], now: datetime) -> bytes:
    """An Atom 1.0 document; the feed-level <updated> is now, entries carry published/updated."""
    link, title = _channel(state)
    entries = [
        f'<entry><title>{escape(t)}</title><link href="{escape(url)}"/><id>{escape(url)}</id>'
        f"<published>{stamp}</published><updated>{stamp}</updated>"
        f'<summary type="html">{escape(t)}</summary>'
        f"<author><name>{escape(state.account.name)}</name></author></entry>"
        for t, url, stamp in _items(state, posts, iso=True)
    ]
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f'<title>{escape(title)}</title><link href="{escape(link)}"/>'
        f"<id>{escape(link)}</id><updated>{now.astimezone(SHANGHAI).isoformat()}</updated>"
        f"<generator>RSSHub</generator>{''.join(entries)}</feed>"
    )
    return doc.encode()


def render_json(state: AccountState, posts: list[datetime], now: datetime) -> bytes:
    """A JSON Feed 1.1 document (RSSHub's `format=json` output); items carry date_published."""
    link, title = _channel(state)
    items = [
        {
            "id": url,
            "url": url,
            "title": t,
            "content_html": f"<p>{t}</p>",
            "date_published": stamp,
            "authors": [{"name": state.account.name}],
        }
        for t, url, stamp in _items(state, posts, iso=True)
    ]
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": link,
        "description": f"{title} - Powered by RSSHub",
        "items": items,
    }
    return json.dumps(doc, ensure_ascii=False).encode()


RENDERERS = {
    "rss": (render_rss, RSS_TYPE),
    "atom": (render_atom, ATOM_TYPE),
    "json": (render_json, JSON_TYPE),
}


def _validators(state: AccountState, posts: list[datetime]) -> tuple[str, datetime | None]:
    etag = stable_token(state.account.account_id, state.account.format, *posts, length=16)
    return f'"{etag}"', (posts[0] if posts else None)


def _not_modified(req: Request, etag: str, last_modified: datetime | None) -> bool:
    inm = req.headers.get("if-none-match")
    if inm is not None:
        # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags
    ims = req.headers.get("if-modified-since")
    if ims and last_modified is not None:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            return False
        return int(last_modified.timestamp()) <= int(since.timestamp())
    return False


def _fault(state: AccountState, body: bytes, content_type: str) -> Response | None:
    fault = state.fault
    if fault is None:
        return None
    if fault == "timeout":
        return Response(hold=True)
    if fault == "http_500":
        return html_500()
    if fault == "rate_limit":
        return Response(
            429,
            b"Too Many Requests",
            "text/plain; charset=utf-8",
            [("Retry-After", str(RETRY_AFTER_S))],
        )
    if fault == "login_wall":
        return Response(200, LOGIN_PAGE, "text/html; charset=utf-8")
    return Response(200, truncated(body), content_type)


def not_found() -> Response:
    """What an unknown or deleted feed answers."""
    return Response(404, NOT_FOUND_PAGE, "text/html; charset=utf-8")


def handle(world: World, req: Request) -> Response:
    """Serve /feed/{id}.xml or /feed/{id}.atom with conditional GET."""
    name = req.path.removeprefix("/feed/")
    stem, dot, ext = name.rpartition(".")
    state = world.get("feed", stem) if dot else None
    if state is None or not state.account.exists:
        return not_found()
    fmt = state.account.format
    if "." + ext != EXTENSIONS[fmt]:
        return not_found()
    now = world.now()
    posts = state.served(now)
    render, content_type = RENDERERS[fmt]
    body = render(state, posts, now)
    fault = _fault(state, body, content_type)
    if fault is not None:
        return fault
    etag, last_modified = _validators(state, posts)
    headers = [("ETag", etag), ("Cache-Control", "public, max-age=300")]
    if last_modified is not None:
        headers.append(("Last-Modified", http_date(last_modified)))
    if _not_modified(req, etag, last_modified):
        return Response(304, b"", content_type, headers)
    return Response(200, body, content_type, headers)
