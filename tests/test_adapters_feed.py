"""The feed adapter: entry dates, conditional GET, failures, and the outbound guard."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from zh_check import assert_worded

from adapters.base import AdapterContext, CheckResult, CheckTarget
from adapters.feed import FeedAdapter
from monitor.models import Outcome, Platform
from monitor.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "feed"
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
NOW = datetime(2024, 12, 6, 7, 30, tzinfo=UTC)
CST = timezone(timedelta(hours=8))
URL = "https://rss.example.org/douyin/user/x"
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}


class _NoSecrets:
    def get(self, name: str) -> str | None:
        return None


def allow_all(url: str) -> None:
    return None


def feed(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def real(name: str) -> bytes:
    if not REAL.is_dir():
        pytest.skip("shared real fixtures not present")
    return (REAL / name).read_bytes()


def serve(body: bytes, status: int = 200, headers: dict[str, str] | None = None):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=body, headers=headers or RSS)

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


def run(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    url: str = URL,
    state: dict[str, Any] | None = None,
    guard: Any = allow_all,
    **settings: Any,
) -> CheckResult:
    async def go() -> CheckResult:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            ctx = AdapterContext(
                http=client,
                settings=Settings(**settings),
                secrets=_NoSecrets(),
                clock=lambda: NOW,
                url_guard=guard,
            )
            target = CheckTarget(
                id=3,
                platform=Platform.DOUYIN,
                account_id="x",
                name="示例发布",
                feed_url=url,
                state=state or {},
            )
            return await FeedAdapter().check(target, ctx)

    return asyncio.run(go())


def test_latest_is_the_newest_entry_not_the_first_or_the_build_date() -> None:
    headers = {**RSS, "ETag": '"v1"', "Last-Modified": "Fri, 06 Dec 2024 02:00:00 GMT"}
    result = run(serve(feed("rsshub_douyin_user.xml"), headers=headers))
    obs = result.observation
    assert obs.outcome is Outcome.OK
    assert obs.latest_post_at == datetime(2024, 12, 4, 20, 15, tzinfo=CST)
    assert obs.post_url == "https://www.douyin.com/video/7440000000000000003"
    assert obs.post_title == "示例市马拉松开跑"
    assert result.state["etag"] == '"v1"'
    assert result.state["last_modified"] == "Fri, 06 Dec 2024 02:00:00 GMT"
    assert result.state["latest_post_at"] == "2024-12-04T20:15:00+08:00"


def test_atom_entries_with_only_updated_dates_are_read() -> None:
    obs = run(serve(feed("atom_bilibili_updated_only.xml"))).observation
    assert obs.outcome is Outcome.OK
    assert obs.latest_post_at == datetime(2024, 11, 25, 10, 30, tzinfo=CST)


def test_conditional_get_sends_validators_and_a_304_repeats_the_stored_post() -> None:
    state = {
        "etag": '"v1"',
        "last_modified": "Fri, 06 Dec 2024 02:00:00 GMT",
        "latest_post_at": "2024-12-04T20:15:00+08:00",
        "post_id": "p3",
        "post_url": "https://www.douyin.com/video/3",
        "post_title": "示例市马拉松开跑",
    }
    handler = serve(b"", status=304, headers={})
    result = run(handler, state=state)
    sent = handler.seen[0]  # type: ignore[attr-defined]
    assert sent.headers["if-none-match"] == '"v1"'
    assert sent.headers["if-modified-since"] == "Fri, 06 Dec 2024 02:00:00 GMT"
    obs = result.observation
    assert obs.outcome is Outcome.OK
    assert obs.detail == "not modified"
    assert obs.latest_post_at == datetime(2024, 12, 4, 20, 15, tzinfo=CST)
    assert obs.post_url == "https://www.douyin.com/video/3"
    assert result.state == state
    assert_worded(obs)


def test_no_validators_are_sent_without_a_stored_post_and_a_stray_304_fails() -> None:
    handler = serve(b"", status=304, headers={})
    result = run(handler, state={"etag": '"v1"'})
    assert "if-none-match" not in handler.seen[0].headers  # type: ignore[attr-defined]
    assert result.observation.outcome is Outcome.PARSE_ERROR
    assert_worded(result.observation)


@pytest.mark.parametrize(
    ("body", "status", "headers", "outcome", "detail_part", "retry_after"),
    [
        (
            feed("channel_without_items.xml"),
            200,
            RSS,
            Outcome.PARSE_ERROR,
            "feed has no entries",
            None,
        ),
        (feed("items_without_dates.xml"), 200, RSS, Outcome.PARSE_ERROR, "date", None),
        (
            "<!DOCTYPE html><html><body><form>请登录 password</form></body></html>".encode(),
            200,
            {"Content-Type": "text/html"},
            Outcome.BLOCKED,
            "login",
            None,
        ),
        (
            b"<html><body>Welcome to nginx!</body></html>",
            200,
            {"Content-Type": "text/html"},
            Outcome.PARSE_ERROR,
            "HTML page",
            None,
        ),
        (b"\x00\x01garbage", 200, RSS, Outcome.PARSE_ERROR, "not an RSS/Atom feed", None),
        (b"slow down", 429, {"Retry-After": "90"}, Outcome.RATE_LIMITED, "429", 90.0),
        (b"", 418, {}, Outcome.RATE_LIMITED, "418", None),
        (b"route not found", 404, {}, Outcome.PARSE_ERROR, "broken bridge", None),
        (b"", 410, {}, Outcome.PARSE_ERROR, "not evidence", None),
        (b"upstream failed", 503, {}, Outcome.TRANSIENT, "503", None),
        (b"", 401, {}, Outcome.AUTH_ERROR, "401", None),
        (b"", 403, {}, Outcome.BLOCKED, "403", None),
    ],
)
def test_failures_map_to_outcomes(
    body: bytes,
    status: int,
    headers: dict[str, str],
    outcome: Outcome,
    detail_part: str,
    retry_after: float | None,
) -> None:
    obs = run(serve(body, status=status, headers=headers)).observation
    assert obs.outcome is outcome
    assert detail_part in (obs.detail or "")
    assert obs.retry_after == retry_after
    assert obs.latest_post_at is None
    assert_worded(obs)


def test_an_empty_feed_body_is_excerpted_in_the_detail() -> None:
    obs = run(serve(feed("channel_without_items.xml"))).observation
    assert "示例县发布" in (obs.detail or "")
    assert_worded(obs)


@pytest.mark.parametrize(
    "exc",
    [httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.RemoteProtocolError("x")],
)
def test_network_failures_are_transient(exc: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    assert run(handler).observation.outcome is Outcome.TRANSIENT


def test_bodies_over_the_cap_are_refused() -> None:
    obs = run(serve(feed("rsshub_douyin_user.xml")), http={"max_body_bytes": 100}).observation
    assert obs.outcome is Outcome.PARSE_ERROR
    assert "larger than 100 bytes" in (obs.detail or "")
    assert_worded(obs)


def test_a_refused_url_is_a_refused_check_before_any_request() -> None:
    handler = serve(feed("rsshub_douyin_user.xml"))
    obs = run(handler, guard=lambda url: "refused: a private address").observation
    assert obs.outcome is Outcome.REFUSED
    assert "private" in (obs.detail or "")
    assert handler.seen == []  # type: ignore[attr-defined]
    assert_worded(obs)


def test_without_a_ctx_guard_the_settings_guard_refuses_loopback() -> None:
    handler = serve(feed("rsshub_douyin_user.xml"))
    obs = run(handler, url="http://127.0.0.1:1200/weibo/user/1", guard=None).observation
    assert obs.outcome is Outcome.REFUSED
    assert "loopback" in (obs.detail or "")
    assert handler.seen == []  # type: ignore[attr-defined]
    assert_worded(obs)


def test_allow_private_addresses_lifts_the_default_guard() -> None:
    obs = run(
        serve(feed("rsshub_douyin_user.xml")),
        url="http://127.0.0.1:1200/douyin/user/x",
        guard=None,
        network={"allow_private_addresses": True},
    ).observation
    assert obs.outcome is Outcome.OK


def redirecting(hops: list[str], final: bytes):
    """A handler redirecting along `hops`, then serving `final`."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        step = len(seen) - 1
        if step < len(hops):
            return httpx.Response(302, headers={"Location": hops[step]})
        return httpx.Response(200, content=final, headers=RSS)

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


def test_redirects_are_followed_and_every_hop_is_checked() -> None:
    checked: list[str] = []

    async def guard(url: str) -> str | None:
        checked.append(url)
        return "refused: a private address" if "internal" in url else None

    ok = redirecting(["/moved", "https://mirror.example.org/feed"], feed("rsshub_douyin_user.xml"))
    assert run(ok, guard=guard).observation.outcome is Outcome.OK
    assert checked == [URL, "https://rss.example.org/moved", "https://mirror.example.org/feed"]

    bad = redirecting(["http://internal.example/feed"], feed("rsshub_douyin_user.xml"))
    obs = run(bad, guard=guard).observation
    assert obs.outcome is Outcome.REFUSED
    assert "redirect hop 1" in (obs.detail or "")
    assert len(bad.seen) == 1  # type: ignore[attr-defined]
    assert_worded(obs)


def test_more_than_five_redirects_fail() -> None:
    loop = redirecting([f"/r{i}" for i in range(10)], b"")
    obs = run(loop).observation
    assert obs.outcome is Outcome.TRANSIENT
    assert "redirects" in (obs.detail or "")
    assert len(loop.seen) == 6  # type: ignore[attr-defined]
    assert_worded(obs)


# Real captured payloads (skipped when ../shared/fixtures/real is absent).


def test_real_empty_rsshub_feed_is_a_failed_check_despite_its_last_build_date() -> None:
    obs = run(serve(real("rsshub_weibo_user2_empty_feed_2019.xml"))).observation
    assert obs.outcome is Outcome.PARSE_ERROR
    assert not obs.is_evidence
    assert obs.latest_post_at is None


def test_real_shenzhen_wechat_feed_latest_post_is_its_newest_item() -> None:
    obs = run(serve(real("wechat_rss_wechat-feeds_shenzhenfabu_2021.xml"))).observation
    assert obs.outcome is Outcome.OK
    # The newest <item> pubDate; 21:31:36 is only the channel's own <pubDate>, which,
    # like lastBuildDate, says nothing about posts.
    assert obs.latest_post_at == datetime(2021, 6, 16, 21, 22, 47, tzinfo=CST)
    assert obs.post_url and obs.post_url.startswith("https://mp.weixin.qq.com/s/")


def test_a_truncated_feed_is_a_parse_error_even_if_some_entries_survive():
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>a</title><link>https://example.org/a</link>"
        b"<pubDate>Wed, 16 Jun 2021 21:22:47 +0800</pubDate></item>"
        b"<item><title>b</title><link>https://exa"
    )
    result = run(serve(body))
    assert result.observation.outcome is Outcome.PARSE_ERROR
    assert "well-formed" in (result.observation.detail or "")
    assert_worded(result.observation)


# --- times written without a zone are local (the configured zone) ---------------------


def rss_item(tag: str, value: str) -> bytes:
    ns = ' xmlns:dc="http://purl.org/dc/elements/1.1/"' if tag.startswith("dc:") else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"{ns}><channel>'
        f"<title>示例县人民政府</title><link>http://www.example.gov.cn/</link>"
        f"<lastBuildDate>Fri, 06 Dec 2024 07:00:00 GMT</lastBuildDate>"
        f"<item><title>示例县召开常务会议</title><link>http://www.example.gov.cn/a/1.html</link>"
        f"<{tag}>{value}</{tag}></item></channel></rss>"
    ).encode()


def atom_entry(tag: str, value: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>示例县</title><id>urn:x</id><updated>2024-12-06T07:00:00Z</updated>"
        '<entry><title>示例县召开常务会议</title><id>urn:x:1</id><link href="http://x/1"/>'
        f"<{tag}>{value}</{tag}></entry></feed>"
    ).encode()


def json_item(key: str, value: str) -> bytes:
    item = {"id": "1", "url": "http://x/1", "title": "示例县召开常务会议", key: value}
    return json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "示例县", "items": [item]}
    ).encode()


FORMS: list[tuple[str, Callable[[str], bytes], dict[str, str]]] = [
    ("rss pubDate", lambda v: rss_item("pubDate", v), RSS),
    ("rss dc:date", lambda v: rss_item("dc:date", v), RSS),
    (
        "atom published",
        lambda v: atom_entry("published", v),
        {"Content-Type": "application/atom+xml"},
    ),
    ("atom updated", lambda v: atom_entry("updated", v), {"Content-Type": "application/atom+xml"}),
    (
        "json date_published",
        lambda v: json_item("date_published", v),
        {"Content-Type": "application/feed+json"},
    ),
    (
        "json date_modified",
        lambda v: json_item("date_modified", v),
        {"Content-Type": "application/feed+json"},
    ),
]
TIMES = [
    # No zone: Beijing wall time, not UTC (which would be 16:54, or the next day after 16:00).
    ("2016-04-05 08:54:33", datetime(2016, 4, 5, 8, 54, 33, tzinfo=CST)),
    ("2016-04-05T20:54:33", datetime(2016, 4, 5, 20, 54, 33, tzinfo=CST)),
    ("2016/04/05 08:54:33", datetime(2016, 4, 5, 8, 54, 33, tzinfo=CST)),
    ("2016年04月05日 08:54", datetime(2016, 4, 5, 8, 54, tzinfo=CST)),
    ("Tue, 05 Apr 2016 20:54:33", datetime(2016, 4, 5, 20, 54, 33, tzinfo=CST)),
    # A date alone stays that calendar day.
    ("2016-04-05", datetime(2016, 4, 5, tzinfo=CST)),
    ("Tue, 05 Apr 2016", datetime(2016, 4, 5, tzinfo=CST)),
    # A zone is kept.
    ("Tue, 05 Apr 2016 08:54:33 +0800", datetime(2016, 4, 5, 8, 54, 33, tzinfo=CST)),
    ("Tue, 05 Apr 2016 08:54:33 GMT", datetime(2016, 4, 5, 16, 54, 33, tzinfo=CST)),
    ("2016-04-05T08:54:33Z", datetime(2016, 4, 5, 16, 54, 33, tzinfo=CST)),
    ("2016-04-05T08:54:33+08:00", datetime(2016, 4, 5, 8, 54, 33, tzinfo=CST)),
    ("2016-04-05T00:54:33-08:00", datetime(2016, 4, 5, 16, 54, 33, tzinfo=CST)),
]


@pytest.mark.parametrize(("raw", "expected"), TIMES, ids=[t[0] for t in TIMES])
@pytest.mark.parametrize(("form", "render", "headers"), FORMS, ids=[f[0] for f in FORMS])
def test_entry_times_without_a_zone_are_read_in_the_configured_zone(
    form: str, render: Callable[[str], bytes], headers: dict[str, str], raw: str, expected: datetime
) -> None:
    obs = run(serve(render(raw), headers=headers)).observation
    assert obs.outcome is Outcome.OK, obs.detail
    assert obs.latest_post_at == expected
    assert obs.latest_post_at.astimezone(CST).date() == expected.date()


def test_a_zoneless_time_follows_the_configured_zone_not_shanghai_by_fixed_rule() -> None:
    obs = run(serve(rss_item("pubDate", "2016-04-05 08:54:33")), timezone="UTC").observation
    assert obs.latest_post_at == datetime(2016, 4, 5, 8, 54, 33, tzinfo=UTC)


@pytest.mark.parametrize("raw", ["2016-13-45 08:00:00", "2016-04-05 25:61", "yesterday", ""])
def test_an_unreadable_entry_time_is_no_date_and_never_silence(raw: str) -> None:
    obs = run(serve(rss_item("pubDate", raw))).observation
    assert obs.outcome is Outcome.PARSE_ERROR
    assert "has a published/updated date" in (obs.detail or "")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"error": "route not found"}', "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}', "items list"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', "no entries"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": 1', "bad JSON"),
    ],
)
def test_json_that_is_not_a_usable_json_feed_is_a_parse_error(body: bytes, detail: str) -> None:
    obs = run(serve(body, headers={"Content-Type": "application/json"})).observation
    assert obs.outcome is Outcome.PARSE_ERROR
    assert detail in (obs.detail or "")
    assert_worded(obs)
