"""The weibo adapter against scripted m.weibo.cn responses (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from zh_check import assert_worded

from adapters.base import AdapterContext, CheckResult, CheckTarget
from adapters.weibo import WeiboAdapter
from monitor.models import Outcome, Platform
from monitor.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "weibo"
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
NOW = datetime(2024, 12, 6, 7, 30, tzinfo=UTC)
UID = "5550001111"
CST = timezone(timedelta(hours=8))

Reply = httpx.Response | Exception | dict[str, Any] | str


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def real(name: str) -> dict[str, Any]:
    if not REAL.is_dir():
        pytest.skip("shared real fixtures not present")
    return json.loads((REAL / name).read_text(encoding="utf-8"))


class Script:
    """Answers profile / timeline-page requests from a table; records every request."""

    def __init__(self, profile: Reply, pages: dict[int, Reply] | None = None):
        self.profile = profile
        self.pages = pages or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        params = request.url.params
        if "containerid" not in params:
            reply = self.profile
        else:
            reply = self.pages.get(int(params.get("page", "1")), {"ok": 0, "msg": "no more"})
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        if isinstance(reply, str):
            return httpx.Response(200, text=reply)
        return httpx.Response(200, json=reply)


def run(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    uid: str = UID,
    now: datetime = NOW,
    **settings: Any,
) -> CheckResult:
    async def go() -> CheckResult:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            ctx = AdapterContext(
                http=client,
                settings=Settings(**settings),
                secrets=_NoSecrets(),
                clock=lambda: now,
            )
            target = CheckTarget(id=7, platform=Platform.WEIBO, account_id=uid, name="平安示例")
            return await WeiboAdapter().check(target, ctx)

    return asyncio.run(go())


class _NoSecrets:
    def get(self, name: str) -> str | None:
        return None


def test_latest_post_is_the_newest_of_all_cards_including_nested_groups() -> None:
    script = Script(
        fixture("profile_gov_account.json"), {1: fixture("timeline_pinned_old_post.json")}
    )
    obs = run(script).observation
    assert obs.outcome is Outcome.OK
    # The card_group repost at 18:05:30; the retweeted original's later time is not ours.
    assert obs.latest_post_at == datetime(2024, 12, 1, 18, 5, 30, tzinfo=CST)
    assert obs.post_id == "5100000000000003"
    assert obs.post_url == "https://m.weibo.cn/detail/5100000000000003"
    assert obs.post_title == "转发微博"
    assert obs.observed_at == NOW
    assert obs.profile == {
        "screen_name": "平安示例",
        "statuses_count": 2841,
        "verified": True,
        "verified_type": 1,
        "verified_reason": "示例市公安局官方微博",
    }
    assert "1 pinned" in (obs.detail or "")
    assert_worded(obs)


def test_it_reads_the_timeline_container_from_the_weibo_tab_and_sends_mobile_headers() -> None:
    script = Script(
        fixture("profile_gov_account.json"), {1: fixture("timeline_pinned_old_post.json")}
    )
    run(script, weibo={"cookie": SecretStr("SUB=secret-visitor-cookie")})
    profile_req, timeline_req = script.requests
    assert timeline_req.url.params["containerid"] == "2304135550001111_-_WEIBO_SECOND_PROFILE_WEIBO"
    assert timeline_req.url.path == "/api/container/getIndex"
    assert profile_req.headers["referer"] == f"https://m.weibo.cn/u/{UID}"
    assert "iPhone" in profile_req.headers["user-agent"]
    assert profile_req.headers["cookie"] == "SUB=secret-visitor-cookie"


def test_a_pinned_only_first_page_reads_the_next_page() -> None:
    script = Script(
        fixture("profile_gov_account.json"),
        {
            1: fixture("timeline_only_pinned_page1.json"),
            2: fixture("timeline_page2_short_dates.json"),
        },
    )
    obs = run(script).observation
    assert obs.outcome is Outcome.OK
    assert obs.latest_post_at == datetime(2024, 12, 5, 21, 40, tzinfo=CST)
    assert [r.url.params.get("page") for r in script.requests] == [None, None, "2"]


def test_paging_stops_at_max_pages() -> None:
    script = Script(
        fixture("profile_gov_account.json"),
        {
            1: fixture("timeline_only_pinned_page1.json"),
            2: fixture("timeline_page2_short_dates.json"),
        },
    )
    obs = run(script, weibo={"max_pages": 1}).observation
    assert obs.outcome is Outcome.OK
    assert obs.latest_post_at == datetime(2022, 1, 3, tzinfo=CST)
    assert "latest is pinned" in (obs.detail or "")
    assert len(script.requests) == 2
    assert_worded(obs)


def test_paging_stops_at_an_ok0_page() -> None:
    script = Script(
        fixture("profile_gov_account.json"), {1: fixture("timeline_only_pinned_page1.json")}
    )
    obs = run(script, weibo={"max_pages": 3}).observation
    assert obs.outcome is Outcome.OK
    assert len(script.requests) == 3  # profile, page 1, page 2 (ok:0) and no page 3


def test_missing_weibo_tab_falls_back_to_107603_and_says_so() -> None:
    profile = fixture("profile_gov_account.json")
    del profile["data"]["tabsInfo"]
    script = Script(profile, {1: fixture("timeline_page2_short_dates.json")})
    obs = run(script).observation
    assert obs.outcome is Outcome.OK
    assert script.requests[1].url.params["containerid"] == f"107603{UID}"
    assert "guessed containerid" in (obs.detail or "")
    assert_worded(obs)


def test_no_content_needs_the_profile_to_agree() -> None:
    script = Script(fixture("profile_never_posted.json"), {1: fixture("timeline_no_content.json")})
    obs = run(script, uid="5550002222").observation
    assert obs.outcome is Outcome.NO_CONTENT
    assert obs.profile and obs.profile["statuses_count"] == 0


def test_an_empty_timeline_of_an_account_with_posts_is_never_silence() -> None:
    script = Script(fixture("profile_gov_account.json"), {1: fixture("timeline_no_content.json")})
    obs = run(script).observation
    assert obs.outcome is Outcome.BLOCKED
    assert "statuses_count=2841" in (obs.detail or "")
    assert_worded(obs)


@pytest.mark.parametrize(
    ("profile", "pages", "outcome", "detail_part"),
    [
        ("profile_user_missing.json", {}, Outcome.NOT_FOUND, "用户不存在"),
        ({"ok": 0, "msg": "请求过于频繁，歇歇吧"}, {}, Outcome.RATE_LIMITED, "too many"),
        (
            {"ok": 0, "msg": "该账号因被投诉违反法律法规已被封禁"},
            {},
            Outcome.RESTRICTED,
            "restricted",
        ),
        ({"ok": 1, "data": {"cards": []}}, {}, Outcome.PARSE_ERROR, "no data.userInfo"),
        ("visitor_login_required.json", {}, Outcome.BLOCKED, "ok:-100"),
        ("captcha_redirect.json", {}, Outcome.BLOCKED, "captcha"),
        ("profile_gov_account.json", {1: "captcha_redirect.json"}, Outcome.BLOCKED, "captcha"),
        (
            "profile_gov_account.json",
            {1: "timeline_bad_date.json"},
            Outcome.PARSE_ERROR,
            "大约三天前",
        ),
        ("profile_gov_account.json", {1: {"ok": 1, "data": {}}}, Outcome.PARSE_ERROR, "data.cards"),
        (
            "profile_gov_account.json",
            {1: {"ok": 1, "data": {"cards": [{"card_type": 9, "mblog": {"id": "1"}}]}}},
            Outcome.PARSE_ERROR,
            "created_at",
        ),
        ("profile_gov_account.json", {1: {"ok": 0, "msg": "???"}}, Outcome.PARSE_ERROR, "???"),
        (
            "profile_gov_account.json",
            {1: {"ok": 1, "data": {"cards": []}}},
            Outcome.BLOCKED,
            "2841",
        ),
    ],
)
def test_platform_bodies_map_to_outcomes(
    profile: Any, pages: dict[int, Any], outcome: Outcome, detail_part: str
) -> None:
    def load(x: Any) -> Any:
        return fixture(x) if isinstance(x, str) else x

    script = Script(load(profile), {k: load(v) for k, v in pages.items()})
    obs = run(script).observation
    assert obs.outcome is outcome
    assert detail_part in (obs.detail or "")
    assert_worded(obs)


@pytest.mark.parametrize(
    ("reply", "outcome", "retry_after"),
    [
        (httpx.Response(418, text="I'm a teapot"), Outcome.RATE_LIMITED, None),
        (httpx.Response(432, headers={"Retry-After": "120"}), Outcome.RATE_LIMITED, 120.0),
        (
            httpx.Response(429, headers={"Retry-After": "Fri, 06 Dec 2024 07:35:00 GMT"}),
            Outcome.RATE_LIMITED,
            300.0,
        ),
        (httpx.Response(502, text="bad gateway"), Outcome.TRANSIENT, None),
        (httpx.Response(404), Outcome.PARSE_ERROR, None),
        (
            httpx.Response(302, headers={"Location": "https://passport.weibo.cn/signin"}),
            Outcome.BLOCKED,
            None,
        ),
        (
            httpx.Response(200, html="<!DOCTYPE html><html><title>微博-登录</title></html>"),
            Outcome.BLOCKED,
            None,
        ),
        (httpx.Response(200, text="{not json"), Outcome.PARSE_ERROR, None),
        (httpx.ReadTimeout("timed out"), Outcome.TRANSIENT, None),
        (httpx.ConnectError("connection reset by peer"), Outcome.TRANSIENT, None),
    ],
)
def test_http_level_failures_map_to_outcomes(
    reply: Reply, outcome: Outcome, retry_after: float | None
) -> None:
    obs = run(Script(reply)).observation
    assert obs.outcome is outcome
    assert obs.retry_after == retry_after
    assert obs.detail
    assert_worded(obs)


def test_parse_errors_carry_a_body_excerpt_and_never_the_cookie() -> None:
    script = Script(httpx.Response(200, text="{oops this is not json"))
    obs = run(script, weibo={"cookie": SecretStr("SUB=top-secret")}).observation
    assert obs.outcome is Outcome.PARSE_ERROR
    assert "{oops this is not json" in (obs.detail or "")
    assert "top-secret" not in (obs.detail or "")
    assert_worded(obs)


def test_a_non_numeric_uid_is_a_parse_error_without_any_request() -> None:
    script = Script(fixture("profile_gov_account.json"))
    obs = run(script, uid="pingan").observation
    assert obs.outcome is Outcome.PARSE_ERROR
    assert script.requests == []
    assert_worded(obs)


# Real captured payloads (skipped when ../shared/fixtures/real is absent).


def test_real_2019_timeline_gives_its_newest_month_day_post_in_2019() -> None:
    script = Script(
        real("weibo_getindex_uid_profile_2019.json"),
        {1: real("weibo_getindex_user_timeline_107603_2019.json")},
    )
    now = datetime(2019, 6, 18, 12, 0, tzinfo=CST)
    obs = run(script, uid="1669879400", now=now).observation
    assert obs.outcome is Outcome.OK
    assert obs.latest_post_at is not None
    assert obs.latest_post_at.date().isoformat() == "2019-06-14"
    assert obs.post_id in {"4383183661430868", "4383180406740606"}
    assert script.requests[1].url.params["containerid"] == "1076031669879400"
    assert obs.profile and obs.profile["statuses_count"] == 1008


def test_real_no_content_body_with_a_never_posted_profile_is_no_content() -> None:
    profile = real("weibo_getindex_uid_profile_2019.json")
    profile["data"]["userInfo"]["statuses_count"] = 0
    script = Script(profile, {1: real("weibo_getindex_error_ok0_no_content.json")})
    obs = run(script, uid="1669879400").observation
    assert obs.outcome is Outcome.NO_CONTENT


def test_query_strings_quote_only_what_needs_it():
    from adapters.weibo import _query

    plain = {"type": "uid", "value": "1", "containerid": "230413_-_WEIBO_SECOND_PROFILE"}
    assert _query(plain) == "type=uid&value=1&containerid=230413_-_WEIBO_SECOND_PROFILE"
    assert _query({"containerid": "a&b=c d"}) == "containerid=a%26b%3Dc+d"
