"""The platform simulator: protocol shapes, faults, knobs, generator, roster and ready file.

Every test talks to a real loopback server over sockets (httpx, or wechatpy via requests).
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from monitor.simulator import (
    FAULTS,
    ROSTER_COLUMNS,
    Scenario,
    ScenarioError,
    SimAccount,
    SimulatorServer,
    env_lines,
    generate_city,
    load_scenario,
    write_ready_file,
    write_roster,
)
from monitor.simulator import ready as ready_mod
from monitor.simulator.weibo import mblog_id

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 12, 10, 12, 0, tzinfo=TZ)
SECRET = "s3cret-value"
WEIBO = "/api/container/getIndex"


def clock() -> datetime:
    return NOW


def days_ago(n: float, hour: int = 10) -> datetime:
    return (NOW - timedelta(days=n)).replace(hour=hour, minute=0, second=0)


def acc(platform: str, account_id: str, posts: list[datetime], **extra: Any) -> SimAccount:
    return SimAccount(
        platform=platform,
        account_id=account_id,
        name=f"测试{account_id}",
        unit="石泉县统计局",
        region="石泉县",
        posts=posts,
        **extra,
    )


# 25 daily posts, one in the future, and an old pinned post (index 0).
BUSY_POSTS = [datetime(2023, 5, 1, 9, 0, tzinfo=TZ)] + [days_ago(d) for d in range(25)]
BUSY_POSTS.append(NOW + timedelta(days=1))
RELATIVE_POSTS = [
    NOW - timedelta(seconds=30),
    NOW - timedelta(minutes=5),
    NOW - timedelta(hours=3),
    datetime(2024, 12, 9, 20, 15, tzinfo=TZ),
    datetime(2024, 11, 2, 10, 0, tzinfo=TZ),
    datetime(2023, 8, 1, 10, 0, tzinfo=TZ),
]
MARKERS = ("title", "isTop", "mblogtype", "profile_type_id")


def build_scenario() -> Scenario:
    accounts = [
        acc(
            "weibo",
            "1000000001",
            BUSY_POSTS,
            pinned=0,
            container_prefix="230413",
            pinned_marker="title",
            statuses_count=800,
        ),
        acc("weibo", "1000000002", RELATIVE_POSTS, relative_dates=True, container_prefix="107603"),
        acc("weibo", "1000000003", []),
        acc("weibo", "1000000004", [days_ago(3)], exists=False),
        *[
            acc(
                "weibo",
                f"100000002{i}",
                [days_ago(2), days_ago(5), datetime(2022, 1, 1, tzinfo=TZ)],
                pinned=2,
                pinned_marker=m,
            )
            for i, m in enumerate(MARKERS)
        ],
        acc("wechat", "wx0000000000000001", [days_ago(d, 9) for d in range(30)], publish="mixed"),
        acc("wechat", "wx0000000000000002", [days_ago(1, 9), days_ago(4, 9)], publish="mass"),
        acc(
            "feed",
            "rss-1",
            [days_ago(1), days_ago(3), NOW + timedelta(hours=2)],
            platform_label="douyin",
        ),
        acc("feed", "atom-1", [days_ago(2), days_ago(9)], platform_label="bilibili", format="atom"),
        acc("feed", "empty-1", [], platform_label="toutiao"),
    ]
    return Scenario(accounts=accounts, wechat_secret=SECRET)


@pytest.fixture(scope="module")
def server() -> Any:
    with SimulatorServer(build_scenario(), clock=clock, seed=7) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: SimulatorServer) -> Any:
    with httpx.Client(base_url=server.url, trust_env=False, timeout=5) as c:
        yield c


@pytest.fixture
def fresh() -> Any:
    """A server of its own, for tests that change knobs."""
    with SimulatorServer(build_scenario(), clock=clock, seed=7, hold_seconds=30) as srv:
        yield srv


def weibo_get(c: httpx.Client, uid: str, **params: Any) -> httpx.Response:
    return c.get(WEIBO, params={"type": "uid", "value": uid, **params})


def timeline_cid(c: httpx.Client, uid: str) -> str:
    tabs = weibo_get(c, uid).json()["data"]["tabsInfo"]["tabs"]
    return next(t["containerid"] for t in tabs if t["tab_type"] == "weibo")


def flat_cards(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for card in cards:
        if card["card_type"] == 11:
            out.extend(flat_cards(card["card_group"]))
        elif card["card_type"] == 9:
            out.append(card)
    return out


def is_pinned(card: dict[str, Any]) -> bool:
    m = card["mblog"]
    return (
        m.get("title", {}).get("text") == "置顶"
        or m.get("isTop") == 1
        or m.get("mblogtype") == 2
        or str(card.get("profile_type_id", "")).startswith("proweibotop")
    )


def parse_abs(text: str) -> datetime:
    return datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y")


def wechat_token(c: httpx.Client, appid: str, secret: str = SECRET) -> httpx.Response:
    params = {"grant_type": "client_credential", "appid": appid, "secret": secret}
    return c.get("/cgi-bin/token", params=params)


# ----- Weibo ----------------------------------------------------------------------------


def test_weibo_profile_shape(client: httpx.Client) -> None:
    body = weibo_get(client, "1000000001").json()
    assert body["ok"] == 1
    info = body["data"]["userInfo"]
    assert info["id"] == 1000000001
    assert info["screen_name"] == "测试1000000001"
    assert info["statuses_count"] == 800
    assert info["verified"] is True and info["verified_type"] == 1
    assert "石泉县统计局" in info["verified_reason"]
    tabs = body["data"]["tabsInfo"]["tabs"]
    assert tabs[0]["tab_type"] == "profile"
    assert timeline_cid(client, "1000000001") == "2304131000000001"
    assert timeline_cid(client, "1000000002") == "1076031000000002"


def test_weibo_timeline_pages_cover_exactly_the_served_posts(client: httpx.Client) -> None:
    cid = timeline_cid(client, "1000000001")
    seen: list[datetime] = []
    page: int | None = 1
    pages = 0
    while page is not None:
        body = weibo_get(client, "1000000001", containerid=cid, page=page).json()
        assert body["ok"] == 1
        info = body["data"]["cardlistInfo"]
        assert info["containerid"] == cid and info["total"] == 800
        cards = flat_cards(body["data"]["cards"])
        if page == 1:
            assert is_pinned(cards[0]) and cards[0]["mblog"]["title"]["text"] == "置顶"
            assert parse_abs(cards[0]["mblog"]["created_at"]) == BUSY_POSTS[0]
            cards = cards[1:]
        assert len(cards) <= 10
        for card in cards:
            m = card["mblog"]
            assert m["id"] == m["idstr"] == m["mid"] and m["bid"]
            assert m["user"]["id"] == 1000000001
            seen.append(parse_abs(m["created_at"]))
        page = info["page"]
        pages += 1
    # 25 past posts (future one withheld), newest first, 3 pages of <= 10.
    assert pages == 3
    assert seen == sorted((p for p in BUSY_POSTS[1:] if p <= NOW), reverse=True)
    past_end = weibo_get(client, "1000000001", containerid=cid, page=4).json()
    assert past_end == {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}


def test_weibo_since_id_paging_matches_page_paging(client: httpx.Client) -> None:
    cid = timeline_cid(client, "1000000001")
    first = weibo_get(client, "1000000001", containerid=cid).json()["data"]
    since = first["cardlistInfo"]["since_id"]
    by_since = weibo_get(client, "1000000001", containerid=cid, since_id=since).json()["data"]
    by_page = weibo_get(client, "1000000001", containerid=cid, page=2).json()["data"]
    ids = [c["mblog"]["id"] for c in flat_cards(by_since["cards"])]
    assert ids == [c["mblog"]["id"] for c in flat_cards(by_page["cards"])]
    assert all(int(i) < since for i in ids)


def test_weibo_timeline_has_reposts_and_card_groups(client: httpx.Client) -> None:
    reposts = groups = 0
    for uid in ("1000000001", *(f"100000002{i}" for i in range(4))):
        cid = timeline_cid(client, uid)
        for page in (1, 2, 3):
            body = weibo_get(client, uid, containerid=cid, page=page).json()
            if body["ok"] != 1:
                break
            groups += sum(c["card_type"] == 11 for c in body["data"]["cards"])
            for card in flat_cards(body["data"]["cards"]):
                m = card["mblog"]
                if "retweeted_status" in m:
                    reposts += 1
                    inner = m["retweeted_status"]
                    assert inner["user"]["id"] != m["user"]["id"]
                    assert parse_abs(inner["created_at"]) < parse_abs(m["created_at"])
    assert reposts >= 1 and groups >= 1


@pytest.mark.parametrize("index, marker", list(enumerate(MARKERS)))
def test_weibo_pinned_markers(client: httpx.Client, index: int, marker: str) -> None:
    uid = f"100000002{index}"
    body = weibo_get(client, uid, containerid=timeline_cid(client, uid)).json()
    cards = flat_cards(body["data"]["cards"])
    first, rest = cards[0], cards[1:]
    assert parse_abs(first["mblog"]["created_at"]).year == 2022
    m = first["mblog"]
    assert {
        "title": m.get("title", {}).get("text") == "置顶",
        "isTop": m.get("isTop") == 1,
        "mblogtype": m.get("mblogtype") == 2,
        "profile_type_id": first.get("profile_type_id", "").startswith("proweibotop_"),
    } == {k: k == marker for k in MARKERS}
    assert not any(is_pinned(c) for c in rest)
    assert [parse_abs(c["mblog"]["created_at"]) for c in rest] == [days_ago(2), days_ago(5)]


def test_weibo_relative_created_at_forms(client: httpx.Client) -> None:
    uid = "1000000002"
    body = weibo_get(client, uid, containerid=timeline_cid(client, uid)).json()
    forms = [c["mblog"]["created_at"] for c in flat_cards(body["data"]["cards"])]
    assert forms == ["刚刚", "5分钟前", "3小时前", "昨天 20:15", "11-02", "2023-08-01"]


def test_weibo_never_posted(client: httpx.Client) -> None:
    profile = weibo_get(client, "1000000003").json()
    assert profile["ok"] == 1 and profile["data"]["userInfo"]["statuses_count"] == 0
    cid = timeline_cid(client, "1000000003")
    body = weibo_get(client, "1000000003", containerid=cid).json()
    assert body == {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}


def test_weibo_deleted_and_unknown(client: httpx.Client) -> None:
    for uid in ("1000000004", "9999999999"):
        assert weibo_get(client, uid).json() == {"ok": 0, "msg": "用户不存在"}
        # The timeline alone cannot tell a deleted account from an empty one.
        body = weibo_get(client, uid, containerid="107603" + uid).json()
        assert body == {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}


def test_weibo_wrong_container_prefix_finds_nothing(client: httpx.Client) -> None:
    body = weibo_get(client, "1000000001", containerid="1076031000000001").json()
    assert body["ok"] == 0 and body["data"]["cards"] == []


@pytest.mark.parametrize("fault", FAULTS)
def test_weibo_faults(fresh: SimulatorServer, fault: str) -> None:
    fresh.set_fault("1000000001", fault)
    with httpx.Client(base_url=fresh.url, trust_env=False, timeout=0.5) as c:
        if fault == "timeout":
            with pytest.raises(httpx.ReadTimeout):
                weibo_get(c, "1000000001")
            return
        r = weibo_get(c, "1000000001")
    if fault == "http_500":
        assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    elif fault == "rate_limit":
        assert r.status_code == 418
    elif fault == "login_wall":
        body = r.json()
        assert r.status_code == 200 and body["ok"] == -100 and "data" not in body
        assert body["url"].startswith("https://passport.weibo.cn/signin/")
    else:
        assert r.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(r.text)


# ----- WeChat ---------------------------------------------------------------------------


def test_wechat_token_errors(client: httpx.Client) -> None:
    ok = wechat_token(client, "wx0000000000000001").json()
    assert ok["expires_in"] == 7200 and ok["access_token"]
    assert wechat_token(client, "wx0000000000000001", "wrong").json()["errcode"] == 40125
    assert wechat_token(client, "wxunknown").json()["errcode"] == 40013
    r = client.post(
        "/cgi-bin/freepublish/batchget",
        params={"access_token": "forged"},
        json={"offset": 0, "count": 20, "no_content": 1},
    )
    assert r.json()["errcode"] == 40001


def test_wechat_stable_token_is_the_same_until_force_refresh(client: httpx.Client) -> None:
    def ask(**extra: Any) -> dict[str, Any]:
        body = {"grant_type": "client_credential", "appid": "wx0000000000000001", "secret": SECRET}
        return client.post("/cgi-bin/stable_token", json=body | extra).json()

    first = ask()
    assert first["access_token"] and first["expires_in"] <= 7200
    again = ask(force_refresh=False)
    assert again["access_token"] == first["access_token"]
    plain = wechat_token(client, "wx0000000000000001").json()["access_token"]
    assert plain != first["access_token"]  # /cgi-bin/token's tokens are separate
    assert ask()["access_token"] == first["access_token"]
    forced = ask(force_refresh=True)["access_token"]
    assert forced != first["access_token"]
    assert ask()["access_token"] == forced
    r = client.post(
        "/cgi-bin/freepublish/batchget",
        params={"access_token": forced},
        json={"offset": 0, "count": 20, "no_content": 1},
    )
    assert "item" in r.json()
    assert ask(secret="wrong")["errcode"] == 40125
    assert ask(appid="wxunknown")["errcode"] == 40013
    assert client.get("/cgi-bin/stable_token").json()["errcode"] == 43002
    assert client.post("/cgi-bin/stable_token", content=b"{").json()["errcode"] == 47001


def test_wechat_freepublish_and_datacube_split_the_posts(client: httpx.Client) -> None:
    token = wechat_token(client, "wx0000000000000001").json()["access_token"]
    items: list[dict[str, Any]] = []
    offset = 0
    while True:
        r = client.post(
            "/cgi-bin/freepublish/batchget",
            params={"access_token": token},
            content=json.dumps({"offset": offset, "count": 20, "no_content": 1}).encode(),
        )
        body = r.json()
        assert body["item_count"] == len(body["item"])
        items += body["item"]
        offset += 20
        if offset >= body["total_count"]:
            break
    published: set[int] = set()
    places = Counter()
    for item in items:
        content = item["content"]
        news = content["news_item"]
        assert news and all(n["url"].startswith("https://mp.weixin.qq.com/s/") for n in news)
        assert all("content" not in n for n in news)  # no_content=1
        assert item["article_id"]
        inside, beside = "update_time" in content, "update_time" in item
        places[(inside, beside)] += 1
        assert inside or beside
        published.add(content["create_time"])
    assert places[(True, False)] and places[(False, True)]
    mass: set[str] = set()
    for d in range(1, 30):
        day = (NOW - timedelta(days=d)).date().isoformat()
        rows = datacube(client, token, TOTAL, day)["list"]
        assert all(row["ref_date"] == day and row["msgid"] and row["title"] for row in rows)
        if rows:
            mass.add(day)
    expected = {int(days_ago(d, 9).timestamp()) for d in range(30)}
    fp_days = {datetime.fromtimestamp(t, TZ).date().isoformat() for t in published}
    assert published < expected and mass and not (mass & fp_days)
    # Today's posts (day 0) are not yet in datacube; everything else is in one channel.
    all_days = {days_ago(d, 9).date().isoformat() for d in range(1, 30)}
    assert (mass | fp_days) >= all_days


DETAIL = "/datacube/getarticletotaldetail"
TOTAL = "/datacube/getarticletotal"
SUMMARY = "/datacube/getarticlesummary"


def datacube(
    c: httpx.Client, token: str, path: str, begin: str, end: str | None = None
) -> dict[str, Any]:
    body = {"begin_date": begin, "end_date": end or begin}
    return c.post(path, params={"access_token": token}, json=body).json()


def test_wechat_send_dated_endpoints_list_a_post_on_its_send_day_only(
    client: httpx.Client,
) -> None:
    token = wechat_token(client, "wx0000000000000001").json()["access_token"]
    sent = {days_ago(d, 9).date().isoformat(): days_ago(d, 9) for d in range(1, 30)}
    for day, moment in sent.items():
        [row] = datacube(client, token, DETAIL, day)["list"]
        # getarticletotaldetail: both channels, ref_date = 发表日期, reads per stat day.
        assert row["ref_date"] == day and row["msgid"] and row["title"]
        assert row["content_url"].startswith("https://mp.weixin.qq.com/s/")
        assert row["publish_type"] in (0, 1)
        assert row["detail_list"][0]["stat_date"] == day
        assert all(d["stat_date"] <= "2024-12-09" for d in row["detail_list"])
        # getarticletotal: the 群发 ones only, by 群发日期.
        total = datacube(client, token, TOTAL, day)["list"]
        assert [r["msgid"] for r in total] == ([row["msgid"]] if row["publish_type"] == 0 else [])
        assert moment.date().isoformat() == day


def test_wechat_summary_lists_a_mass_post_on_every_day_it_is_read(client: httpx.Client) -> None:
    token = wechat_token(client, "wx0000000000000002").json()["access_token"]
    # 群发 on days_ago(4) and days_ago(1); each is read on its day and the 6 days after.
    by_day = {
        d: [
            r["msgid"]
            for r in datacube(client, token, SUMMARY, days_ago(d).date().isoformat())["list"]
        ]
        for d in range(1, 12)
    }
    sent_4 = datacube(client, token, DETAIL, days_ago(4).date().isoformat())["list"][0]["msgid"]
    assert [d for d, ids in by_day.items() if sent_4 in ids] == [1, 2, 3, 4]
    assert all(
        r["ref_date"] == days_ago(1).date().isoformat()
        for r in datacube(client, token, SUMMARY, days_ago(1).date().isoformat())["list"]
    )
    assert len(by_day[1]) == 2  # read yesterday: the post of yesterday and the one of day 4
    # Sent on no day but those two.
    assert [
        d
        for d in range(1, 12)
        if datacube(client, token, DETAIL, days_ago(d).date().isoformat())["list"]
    ] == [1, 4]


@pytest.mark.parametrize("path", [DETAIL, TOTAL, SUMMARY])
def test_wechat_datacube_range_rules(client: httpx.Client, path: str) -> None:
    token = wechat_token(client, "wx0000000000000002").json()["access_token"]

    def call(begin: str, end: str) -> dict[str, Any]:
        return datacube(client, token, path, begin, end)

    assert call("2024-12-01", "2024-12-02")["errcode"] == 61501
    assert call("2024-12-10", "2024-12-10")["errcode"] == 61501  # today: no data yet
    assert call("2024/12/01", "2024/12/01")["errcode"] == 61500
    # Sent on 12-09: one post; read on 12-09: that one and the one sent on 12-06.
    assert len(call("2024-12-09", "2024-12-09")["list"]) == (2 if path == SUMMARY else 1)
    fp = client.post(
        "/cgi-bin/freepublish/batchget",
        params={"access_token": token},
        json={"offset": 0, "count": 20, "no_content": 0},
    ).json()
    assert fp == {"total_count": 0, "item_count": 0, "item": []}  # 群发 only


@pytest.mark.parametrize("fault", FAULTS)
def test_wechat_faults(fresh: SimulatorServer, fault: str) -> None:
    with httpx.Client(base_url=fresh.url, trust_env=False, timeout=0.5) as c:
        token = wechat_token(c, "wx0000000000000001").json()["access_token"]
        fresh.set_fault("wx0000000000000001", fault)

        def batchget() -> httpx.Response:
            body = {"offset": 0, "count": 20, "no_content": 1}
            return c.post(
                "/cgi-bin/freepublish/batchget", params={"access_token": token}, json=body
            )

        if fault == "timeout":
            with pytest.raises(httpx.ReadTimeout):
                batchget()
            return
        for r in (batchget(), wechat_token(c, "wx0000000000000001")):
            if fault == "http_500":
                assert r.status_code == 500
            elif fault == "rate_limit":
                assert r.json()["errcode"] == 45009
            elif fault == "login_wall":
                body = r.json()
                assert body["errcode"] == 40164 and "not in whitelist" in body["errmsg"]
            else:
                assert r.status_code == 200
                with pytest.raises(json.JSONDecodeError):
                    json.loads(r.text)


def test_wechatpy_client_against_simulator(server: SimulatorServer) -> None:
    from wechatpy import WeChatClient
    from wechatpy.exceptions import WeChatClientException

    base = server.url

    class SimClient(WeChatClient):
        """What an adapter does: token URL and datacube base are not under API_BASE_URL."""

        API_BASE_URL = f"{base}/cgi-bin/"

        def __init__(self, appid: str, secret: str) -> None:
            super().__init__(appid, secret, timeout=5)
            self._http.trust_env = False
            self.datacube.API_BASE_URL = f"{base}/datacube/"

        def fetch_access_token(self) -> dict[str, Any]:
            params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
            return self._fetch_access_token(url=f"{base}/cgi-bin/token", params=params)

    client = SimClient("wx0000000000000001", SECRET)
    assert client.fetch_access_token()["expires_in"] == 7200
    page = client.freepublish.batchget(0, 20, no_content=1)
    assert page["total_count"] >= page["item_count"] > 0
    rows = []
    for d in range(1, 6):
        day = NOW.date() - timedelta(days=d)
        rows += client.datacube.get_article_total(day, day)
        detail = client.datacube._post(
            "getarticletotaldetail", data={"begin_date": str(day), "end_date": str(day)}
        )
        assert detail["is_delay"] is False and len(detail["list"]) == 1
    assert rows and all(set(r) >= {"ref_date", "msgid", "title", "details"} for r in rows)
    with pytest.raises(WeChatClientException) as err:
        SimClient("wx0000000000000001", "wrong").fetch_access_token()
    assert err.value.errcode == 40125


# ----- Feeds ----------------------------------------------------------------------------


def test_rss_feed_shape(client: httpx.Client) -> None:
    r = client.get("/feed/rss-1.xml")
    assert r.status_code == 200 and "rss+xml" in r.headers["content-type"]
    channel = ET.fromstring(r.content).find("channel")
    assert channel is not None
    # lastBuildDate is "now", not a post time.
    assert parsedate_to_datetime(channel.findtext("lastBuildDate") or "") == NOW
    dates = [parsedate_to_datetime(i.findtext("pubDate") or "") for i in channel.iter("item")]
    assert dates == [days_ago(1), days_ago(3)]  # the future post is withheld
    assert all(
        i.findtext("link", "").startswith("https://www.douyin.com/video/")
        for i in channel.iter("item")
    )
    assert re.search(r"<pubDate>\w{3}, \d\d \w{3} 2024 10:00:00 \+0800</pubDate>", r.text)


def test_atom_feed_and_empty_feed(client: httpx.Client) -> None:
    ns = {"a": "http://www.w3.org/2005/Atom"}
    r = client.get("/feed/atom-1.atom")
    assert r.status_code == 200 and "atom+xml" in r.headers["content-type"]
    root = ET.fromstring(r.content)
    assert datetime.fromisoformat(root.findtext("a:updated", "", ns)) == NOW
    published = [
        datetime.fromisoformat(e.findtext("a:published", "", ns))
        for e in root.findall("a:entry", ns)
    ]
    assert published == [days_ago(2), days_ago(9)]
    assert client.get("/feed/atom-1.xml").status_code == 404
    empty = client.get("/feed/empty-1.xml")
    channel = ET.fromstring(empty.content).find("channel")
    assert channel is not None and channel.find("item") is None
    assert channel.findtext("lastBuildDate")


def test_feed_conditional_get(client: httpx.Client) -> None:
    r = client.get("/feed/rss-1.xml")
    etag, modified = r.headers["etag"], r.headers["last-modified"]
    assert parsedate_to_datetime(modified) == days_ago(1)
    assert client.get("/feed/rss-1.xml", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/feed/rss-1.xml", headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get("/feed/rss-1.xml", headers={"If-None-Match": '"other"'}).status_code == 200
    older = "Mon, 01 Jan 2024 00:00:00 GMT"
    assert client.get("/feed/rss-1.xml", headers={"If-Modified-Since": older}).status_code == 200


def test_feed_new_post_changes_validators(fresh: SimulatorServer) -> None:
    with httpx.Client(base_url=fresh.url, trust_env=False) as c:
        etag = c.get("/feed/rss-1.xml").headers["etag"]
        fresh.add_post("rss-1", NOW - timedelta(minutes=1))
        r = c.get("/feed/rss-1.xml", headers={"If-None-Match": etag})
        assert r.status_code == 200 and r.headers["etag"] != etag


def test_feed_missing_is_404(client: httpx.Client) -> None:
    assert client.get("/feed/nope.xml").status_code == 404
    assert client.get("/nowhere").status_code == 404


@pytest.mark.parametrize("fault", FAULTS)
def test_feed_faults(fresh: SimulatorServer, fault: str) -> None:
    fresh.set_fault("rss-1", fault)
    with httpx.Client(base_url=fresh.url, trust_env=False, timeout=0.5) as c:
        if fault == "timeout":
            with pytest.raises(httpx.ReadTimeout):
                c.get("/feed/rss-1.xml")
            return
        r = c.get("/feed/rss-1.xml")
    if fault == "http_500":
        assert r.status_code == 500
    elif fault == "rate_limit":
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    elif fault == "login_wall":
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "登录" in r.text
    else:
        assert r.status_code == 200
        with pytest.raises(ET.ParseError):
            ET.fromstring(r.content)


# ----- Knobs, stats, lifecycle ----------------------------------------------------------


def test_rate_limit_answers_418_and_counts(fresh: SimulatorServer) -> None:
    fresh.set_rate_limit(5)
    with httpx.Client(base_url=fresh.url, trust_env=False) as c:
        codes = [weibo_get(c, "1000000001").status_code for _ in range(20)]
        feed_codes = [c.get("/feed/rss-1.xml").status_code for _ in range(8)]
    stats = fresh.stats
    assert codes.count(418) >= 10 and codes[:5] == [200] * 5
    assert feed_codes[:5] == [200] * 5  # limits are per protocol: feeds have their own bucket
    assert stats["over_limit"] == codes.count(418) + feed_codes.count(429)
    assert stats["over_limit_by_protocol"]["weibo"] == codes.count(418)
    assert stats["by_status"][418] == codes.count(418)
    assert stats["requests"] == 28 and stats["by_path"][WEIBO] == 20
    fresh.set_rate_limit(None)
    with httpx.Client(base_url=fresh.url, trust_env=False) as c:
        assert all(weibo_get(c, "1000000001").status_code == 200 for _ in range(10))


def _statuses(rate: float, seed: int) -> list[int]:
    scenario = build_scenario().model_copy(update={"error_rate": rate})
    with (
        SimulatorServer(scenario, clock=clock, seed=seed) as srv,
        httpx.Client(base_url=srv.url, trust_env=False) as c,
    ):
        codes = [weibo_get(c, f"100000002{i % 4}").status_code for i in range(200)]
        assert srv.stats["injected_errors"] == codes.count(500)
        return codes


def test_error_rate_is_seeded() -> None:
    first = _statuses(0.3, seed=1)
    assert first == _statuses(0.3, seed=1)
    assert first != _statuses(0.3, seed=2)
    assert 30 <= first.count(500) <= 90
    assert set(first) == {200, 500}


def test_latency_is_added(fresh: SimulatorServer) -> None:
    fresh.set_latency(150)
    with httpx.Client(base_url=fresh.url, trust_env=False) as c:
        start = time.perf_counter()
        c.get("/feed/rss-1.xml")
        assert time.perf_counter() - start >= 0.15


def test_stop_ends_held_connections_promptly(fresh: SimulatorServer) -> None:
    fresh.set_fault("rss-1", "timeout")
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            httpx.get(f"{fresh.url}/feed/rss-1.xml", timeout=20, trust_env=False)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=fetch)
    t.start()
    deadline = time.monotonic() + 5
    while fresh.stats["held"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.perf_counter()
    fresh.stop()
    t.join(5)
    assert time.perf_counter() - start < 3
    assert not t.is_alive() and isinstance(errors[0], httpx.TransportError)


SERVE_SCRIPT = """
import sys
from monitor.simulator import SimulatorServer, load_scenario
server = SimulatorServer(load_scenario(sys.argv[1]))
server.run(lambda url: print(url, flush=True))
print("stopped", flush=True)
"""


@pytest.fixture
def subprocess_server(tmp_path: Path) -> Any:
    """The foreground mode (`run()`) in its own process, as `monitor simulate` runs it."""
    path = tmp_path / "scenario.json"
    build_scenario().save(path)
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE_SCRIPT, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert proc.stdout is not None
        yield proc, proc.stdout.readline().strip()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)


def test_many_concurrent_keepalive_clients(subprocess_server: Any) -> None:
    proc, url = subprocess_server
    assert url.startswith("http://127.0.0.1:")
    port = int(url.rsplit(":", 1)[1])

    async def with_httpx() -> list[int]:
        # httpx's own pool cost grows fast with its size; 50 keeps the test quick.
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
        async with httpx.AsyncClient(base_url=url, limits=limits, trust_env=False) as c:

            async def worker(i: int) -> list[int]:
                out = []
                for _ in range(4):
                    if i % 2:
                        r = await c.get(WEIBO, params={"type": "uid", "value": "1000000021"})
                    else:
                        r = await c.get("/feed/rss-1.xml")
                    out.append(r.status_code)
                return out

            results = await asyncio.gather(*(worker(i) for i in range(50)))
            return [code for codes in results for code in codes]

    async def raw_load(connections: int, each: int) -> int:
        # A lean client, so the measure is the server's rate, not httpx's.
        async def worker() -> int:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            ok = 0
            for _ in range(each):
                writer.write(b"GET /feed/rss-1.xml HTTP/1.1\r\nHost: sim\r\n\r\n")
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"Content-Length: (\d+)", head)[1])  # type: ignore[index]
                await reader.readexactly(length)
                ok += head.startswith(b"HTTP/1.1 200")
            writer.close()
            return ok

        return sum(await asyncio.gather(*(worker() for _ in range(connections))))

    assert asyncio.run(with_httpx()) == [200] * 200
    # Throughput is measured in bench/, never asserted here.
    assert asyncio.run(raw_load(50, 40)) == 2000
    # SIGTERM ends the foreground server cleanly.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(5) == 0
    assert proc.stdout.readline().strip() == "stopped"


def test_keepalive_reuses_connections(fresh: SimulatorServer) -> None:
    with httpx.Client(base_url=fresh.url, trust_env=False) as c:
        codes = [c.get("/feed/rss-1.xml").status_code for _ in range(30)]
    assert codes == [200] * 30
    assert fresh.stats["connections"] == 1


def test_set_fault_rejects_unknown() -> None:
    srv = SimulatorServer(build_scenario())
    with pytest.raises(ValueError):
        srv.set_fault("rss-1", "explode")
    with pytest.raises(KeyError):
        srv.set_fault("missing", "timeout")


# ----- Scenario files -------------------------------------------------------------------


def test_scenario_round_trip(tmp_path: Path) -> None:
    scenario = build_scenario()
    path = tmp_path / "s.json"
    scenario.save(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert {"accounts", "latency_ms", "rate_limit_per_s", "error_rate"} <= set(raw)
    assert set(raw["accounts"][2]) >= {
        "platform",
        "account_id",
        "name",
        "unit",
        "region",
        "exists",
        "posts",
        "fault",
    }
    assert load_scenario(path) == scenario


def test_scenario_errors_name_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    data = json.loads(build_scenario().to_json())
    data["accounts"][1]["posts"][0] = "2024-12-01T10:00:00"  # no offset
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"bad\.json.*accounts\[1\]\.posts\[0\]"):
        load_scenario(bad)
    data = json.loads(build_scenario().to_json())
    data["accounts"][0]["fault"] = "explode"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"accounts\[0\]\.fault"):
        load_scenario(bad)
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"bad\.json: invalid JSON at line 1"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.json")


# ----- Generator ------------------------------------------------------------------------

TODAY = date(2024, 12, 10)


@pytest.fixture(scope="module")
def city() -> Scenario:
    return generate_city(2000, seed=1, today=TODAY)


def test_generate_city_proportions(city: Scenario) -> None:
    accounts = city.accounts
    start = datetime(2024, 12, 10, tzinfo=TZ)

    def last(a: SimAccount) -> datetime:
        return max(p for i, p in enumerate(a.posts) if i != a.pinned)

    deleted = [a for a in accounts if not a.exists]
    never = [a for a in accounts if a.exists and not a.posts]
    faulty = [a for a in accounts if a.fault]
    live = [a for a in accounts if a.exists and a.posts and not a.fault]
    zombie = [a for a in live if timedelta(days=30) < start - last(a) <= timedelta(days=151)]
    suspended = [a for a in live if start - last(a) > timedelta(days=182)]
    active = [a for a in live if start - last(a) <= timedelta(days=21)]
    assert len(accounts) == 2000
    assert (len(deleted), len(never), len(faulty)) == (20, 20, 40)
    assert (len(zombie), len(suspended)) == (100, 20)
    assert len(active) == len(live) - 120
    assert set(Counter(a.fault for a in faulty)) == set(FAULTS)
    assert {a.platform for a in deleted + never} == {"weibo"}
    assert all(a.posts for a in accounts if a.platform in ("wechat", "feed"))
    assert all(p < start for a in accounts for p in a.posts)
    assert all(len(a.posts) <= 13 for a in accounts)
    assert len({a.region for a in accounts}) == 11
    assert 450 <= len({a.unit for a in accounts}) <= 500
    share = Counter(a.platform for a in accounts)
    assert share["wechat"] > share["weibo"] > share["feed"] * 0.8
    labels = {a.platform_label for a in accounts if a.platform == "feed"}
    assert labels == {"douyin", "toutiao", "bilibili"}
    assert any(a.pinned is not None for a in accounts)
    assert all(
        re.fullmatch(r"wx[0-9a-f]{16}", a.account_id) for a in accounts if a.platform == "wechat"
    )
    assert any("公安局" in a.unit for a in accounts)
    assert any(a.unit.endswith("镇人民政府") for a in accounts)


def test_no_two_accounts_of_a_unit_share_a_generated_name(city: Scenario) -> None:
    names = Counter((a.unit, a.name) for a in city.accounts)
    assert [key for key, n in names.items() if n > 1] == []
    # A unit's second 安康气象 is told apart the way units do it: 安康气象发布, 安康气象微信.
    busy = max(Counter(a.unit for a in city.accounts).items(), key=lambda kv: kv[1])[0]
    assert len({a.name for a in city.accounts if a.unit == busy}) > 1


def test_a_scenario_may_still_give_two_accounts_of_a_unit_one_name() -> None:
    twins = [
        {"platform": p, "account_id": i, "name": "安康发布", "unit": "市人民政府办公室",
         "region": "市直部门", "posts": ["2024-12-01T09:00:00+08:00"]}
        for p, i in (("weibo", "2803301701"), ("wechat", "wx0000000000000001"))
    ]  # fmt: skip
    loaded = Scenario.model_validate({"accounts": twins})
    assert [a.name for a in loaded.accounts] == ["安康发布", "安康发布"]


def test_generate_city_is_deterministic(city: Scenario) -> None:
    again = generate_city(2000, seed=1, today=TODAY)
    assert again.to_json() == city.to_json()
    other = generate_city(2000, seed=2, today=TODAY)
    assert other.to_json() != city.to_json()


def test_generated_city_serves(city: Scenario) -> None:
    # Served a day later, every wechat and feed account shows its posts.
    later = datetime(2024, 12, 11, 9, 0, tzinfo=TZ)
    sample = [a for a in city.accounts if a.platform == "feed" and not a.fault][:20]
    with (
        SimulatorServer(city, clock=lambda: later) as srv,
        httpx.Client(base_url=srv.url, trust_env=False) as c,
    ):
        for a in sample:
            ext = ".atom" if a.format == "atom" else ".xml"
            r = c.get(f"/feed/{a.account_id}{ext}")
            assert r.status_code == 200
            assert r.text.count("<item>") + r.text.count("<entry>") == len(a.posts)
        assert srv.stats["internal_errors"] == 0


# ----- Roster and ready file ------------------------------------------------------------


def test_roster_csv(city: Scenario, tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    rows_written = write_roster(city, path, "http://127.0.0.1:9999/")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert tuple(rows[0]) == ROSTER_COLUMNS
    assert (
        ",".join(rows[0])
        == "类别,主办单位,平台,账号名称,账号ID,状态,source,feed_url,appid,secret_env"
    )
    body = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert len(body) == rows_written == 2000
    assert {r["状态"] for r in body} == {"运行"}
    assert {r["平台"] for r in body} == {"微信", "微博", "抖音", "头条", "哔哩哔哩"}
    by_id = {a.account_id: a for a in city.accounts}
    for r in body:
        a = by_id[r["账号ID"]]
        assert (r["类别"], r["主办单位"], r["账号名称"]) == (a.region, a.unit, a.name)
        if a.platform == "feed":
            ext = ".atom" if a.format == "atom" else ".xml"
            assert r["source"] == "feed"
            assert r["feed_url"] == f"http://127.0.0.1:9999/feed/{a.account_id}{ext}"
        elif a.platform == "wechat":
            assert (r["appid"], r["secret_env"]) == (a.account_id, "SIM_WECHAT_SECRET")
        else:
            assert r["feed_url"] == r["appid"] == r["secret_env"] == ""
    regions = [r["类别"] for r in body]
    assert regions[0] == "市直部门" and regions == sorted(
        regions,
        key=lambda x: [
            *(
                "市直部门",
                "汉滨区",
                "汉阴县",
                "石泉县",
                "宁陕县",
                "紫阳县",
                "岚皋县",
                "平利县",
                "镇坪县",
                "旬阳市",
                "白河县",
            )
        ].index(x),
    )


def test_env_lines() -> None:
    assert env_lines("http://127.0.0.1:8080", "abc") == [
        "MONITOR_WEIBO__BASE_URL=http://127.0.0.1:8080",
        "MONITOR_WECHAT__API_BASE_URL=http://127.0.0.1:8080",
        "MONITOR_WEIBO__VISITOR_URL=http://127.0.0.1:8080",
        "SIM_WECHAT_SECRET=abc",
        'MONITOR_NETWORK__ALLOWED_NETWORKS=["127.0.0.1/32"]',
    ]
    # Only the simulator's own address is allowed, not every private one.
    assert 'MONITOR_NETWORK__ALLOWED_NETWORKS=["::1/128"]' in env_lines("http://[::1]:80", "x")


def test_ready_file_is_replaced_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "ready.env"
    target.write_text("OLD=1\n", encoding="utf-8")
    seen: dict[str, str] = {}
    real_replace = os.replace

    def spy(src: str, dst: Any) -> None:
        # At the moment of the swap the temp file is complete and the target still old.
        seen["dir"] = str(Path(src).parent)
        seen["src"] = Path(src).read_text(encoding="utf-8")
        seen["dst"] = Path(dst).read_text(encoding="utf-8")
        real_replace(src, dst)

    monkeypatch.setattr(ready_mod.os, "replace", spy)
    write_ready_file(target, ["A=1", "B=2"])
    assert seen == {"dir": str(tmp_path), "src": "A=1\nB=2\n", "dst": "OLD=1\n"}
    assert target.read_text(encoding="utf-8") == "A=1\nB=2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["ready.env"]


def test_mblog_ids_grow_with_time() -> None:
    a, b = days_ago(2), days_ago(1)
    assert mblog_id("1", a) < mblog_id("1", b)


def test_wechat_datacube_permissions_and_the_first_day_with_detail_data() -> None:
    sent = days_ago(2, 9)
    scenario = Scenario(
        accounts=[
            acc("wechat", "wx00000000000000a1", [sent], publish="mass", datacube="total_only"),
            acc("wechat", "wx00000000000000a2", [sent], publish="mass", datacube="detail_only"),
        ],
        wechat_secret=SECRET,
        wechat_datacube_from=days_ago(1).date(),
    )
    day = sent.date().isoformat()
    with (
        SimulatorServer(scenario, clock=clock) as srv,
        httpx.Client(base_url=srv.url, trust_env=False, timeout=5) as c,
    ):
        only_total = wechat_token(c, "wx00000000000000a1").json()["access_token"]
        assert datacube(c, only_total, DETAIL, day)["errcode"] == 48001
        assert len(datacube(c, only_total, TOTAL, day)["list"]) == 1
        only_detail = wechat_token(c, "wx00000000000000a2").json()["access_token"]
        assert datacube(c, only_detail, TOTAL, day)["errcode"] == 47009
        # Before wechat_datacube_from the newer endpoint has no articles at all.
        assert datacube(c, only_detail, DETAIL, day) == {"list": [], "is_delay": False}


def test_zoneless_feeds_write_beijing_wall_time_and_json_feeds_are_served() -> None:
    post = days_ago(2, 20)
    scenario = Scenario(
        accounts=[
            acc("feed", "cms-rss", [post], zoneless_dates=True),
            acc("feed", "cms-json", [post], format="json", zoneless_dates=True),
            acc("feed", "plain-json", [post], format="json"),
        ]
    )
    with (
        SimulatorServer(scenario, clock=clock) as srv,
        httpx.Client(base_url=srv.url, trust_env=False, timeout=5) as c,
    ):
        rss = ET.fromstring(c.get("/feed/cms-rss.xml").content)
        assert [i.findtext("pubDate") for i in rss.iter("item")] == ["2024-12-08 20:00:00"]
        r = c.get("/feed/cms-json.json")
        assert r.headers["content-type"].startswith("application/feed+json")
        assert r.json()["version"] == "https://jsonfeed.org/version/1.1"
        assert [i["date_published"] for i in r.json()["items"]] == ["2024-12-08T20:00:00"]
        plain = c.get("/feed/plain-json.json").json()["items"][0]["date_published"]
        assert plain == "2024-12-08T20:00:00+08:00"
        assert c.get("/feed/plain-json.xml").status_code == 404
