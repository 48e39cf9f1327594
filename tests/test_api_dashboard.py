"""The dashboard's pages through TestClient: Chinese text, filters, escaping, errors."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from test_api_support import build_city, settings_for

from adapters.base import AdapterContext, CheckTarget
from adapters.weibo import WeiboAdapter
from monitor.api import create_app
from monitor.models import Observation, Outcome, Platform
from monitor.settings import Settings
from monitor.simulator import Scenario, SimAccount, SimulatorServer
from monitor.store import Store


@pytest.fixture
def city(tmp_path):
    return build_city(tmp_path)


@pytest.fixture
def client(city):
    with TestClient(create_app(settings_for(), city.db, warm=False)) as c:
        yield c


def test_the_overview_shows_counts_pass_rate_sources_alerts_and_report_links(client):
    html = client.get("/").text
    assert "政务新媒体监测" in html and "监测总览" in html
    # 8 accounts: the unknown one is excluded; 3 problems of 7 with a verdict.
    assert "57.1%" in html and "合格 4 / 有结论 7" in html
    assert "未检测（1 个）" in html
    for text in ("市直部门", "石泉县", "汉阴县", "微博接口", "成为僵尸账号", "数据源故障"):
        assert text in html
    assert "/api/reports/" in html and "format=html" in html


def test_the_problem_list_defaults_to_accounts_needing_attention(client):
    html = client.get("/problems").text
    for name in ("安康公积金", "石泉统计", "石泉教育", "安康发布抖音"):
        assert name in html
    assert ">安康住房公积金<" not in html  # active
    # Gone from the platform while the roster says 运行: a roster problem, listed as the report does.
    assert ">汉阴农林科技<" in html and "名单问题：平台上已不存在" in html
    assert "名单问题 1" in html


def test_roster_problems_are_counted_on_the_overview_and_the_unit_pages(client, city):
    overview = client.get("/").text
    assert 'href="/problems?state=roster"' in overview
    assert "名单问题" in overview
    roster = client.get("/problems?state=roster").text
    assert ">汉阴农林科技<" in roster and ">安康公积金<" not in roster
    unit = client.get(f"/units/{city.units['汉阴县农林科技局']}").text
    assert "另有 1 个账号存在名单问题" in unit
    units = client.get("/units").text
    assert "名单问题" in units


def test_summary_cards_link_to_their_filtered_lists_and_reports_offer_excel(client, city):
    overview = client.get("/").text
    for state in ("zombie", "suspended", "warning", "unknown", "active", "cancelled"):
        assert f'href="/problems?state={state}"' in overview
    this_month = re.search(r'/api/reports/(\d{4}-\d{2})\?format=html">网页', overview)[1]
    assert f"/api/reports/{this_month}?format=xlsx" in overview
    unit_id = city.units["市住房公积金中心"]
    unit = client.get(f"/units/{unit_id}").text
    assert f'href="/problems?unit={unit_id}&amp;state=zombie"' in unit
    report = client.get(f"/api/reports/{this_month}?format=html")
    assert '<a href="/">返回监测总览</a>' in report.text  # a served report links back


def test_every_page_inlines_its_icon_and_the_icon_path_answers(client, city):
    pages = ["/", "/problems", "/units", f"/units/{city.units['石泉县统计局']}",
             f"/accounts/{city.ids['石泉统计']}"]  # fmt: skip
    for page in pages:
        assert '<link rel="icon" href="data:image/svg+xml,' in client.get(page).text, page
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_the_account_page_speaks_chinese_and_colours_outcomes_by_what_they_mean(client, city):
    missing = client.get(f"/accounts/{city.ids['汉阴农林科技']}").text
    assert "平台上找不到该账号" in missing  # 判定理由
    assert "名单登记为运行，但平台上已不存在该账号" in missing
    assert 'class="o-not_found">账号不存在' in missing and 'class="ok">账号不存在' not in missing
    zombie = client.get(f"/accounts/{city.ids['安康公积金']}").text
    assert re.search(
        r"最后发布于 \d{4}-\d{2}-\d{2}，早于 \d{4}-\d{2}-\d{2}（超过 1 个月未更新）", zombie
    )
    assert "last post" not in zombie and "before" not in zombie
    failed = client.get(f"/accounts/{city.ids['汉阴农林<script>alert(1)</script>']}").text
    assert "尚无成功的检测" in failed and 'class="o-failed">被拦截' in failed


def test_the_problem_list_filters_by_a_get_form(client, city):
    html = client.get("/problems?region=石泉县&state=zombie&unit=&platform=").text
    assert "石泉统计" in html and "石泉教育" not in html
    unit = city.units["市住房公积金中心"]
    html = client.get(f"/problems?unit={unit}&state=").text
    assert "安康公积金" in html and "石泉统计" not in html
    html = client.get("/problems?platform=douyin").text
    assert "安康发布抖音" in html and "安康公积金" not in html


def test_bad_filters_give_a_422_page_not_a_500(client):
    r = client.get("/problems?state=dead")
    assert r.status_code == 422
    assert "参数有误" in r.text
    assert client.get("/problems?page=0").status_code == 422
    assert client.get("/?as_of=2020-02-30").status_code == 422


def test_unit_and_account_pages_show_verdicts_evidence_and_timeline(client, city):
    unit = client.get(f"/units/{city.units['市住房公积金中心']}").text
    assert "市住房公积金中心" in unit and "僵尸微博" in unit and "成为僵尸账号" in unit
    account = client.get(f"/accounts/{city.ids['安康住房公积金']}").text
    assert "判定结论" in account and "判定证据" in account and "检测记录" in account
    assert 'href="https://m.weibo.cn/status/1"' in account


def test_untrusted_text_is_escaped_and_unsafe_links_are_not_rendered(client, city):
    html = client.get("/problems").text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = client.get(f"/accounts/{city.ids['安康公积金']}").text
    assert "javascript:" not in page


def test_unknown_pages_are_404_pages_in_chinese(client):
    assert "页面不存在" in client.get("/units/999").text
    assert client.get("/accounts/999").status_code == 404
    assert client.get("/nowhere").status_code == 404


def test_with_a_token_the_dashboard_explains_how_to_log_in(city):
    with TestClient(create_app(settings_for("t0k"), city.db, warm=False)) as c:
        r = c.get("/")
        assert r.status_code == 401 and "?token=" in r.text
        assert c.get("/?token=t0k").status_code == 200  # redirect followed, cookie set
        assert c.get("/units").status_code == 200


def _weibo_checks(url: str, accounts: dict[int, str]) -> list[Observation]:
    """The real Weibo adapter's observations of simulated accounts (store id -> UID)."""
    now = datetime.now(UTC)
    settings = Settings(
        weibo={"base_url": url, "visitor": "off"}, network={"allow_private_addresses": True}
    )

    async def go() -> list[Observation]:
        adapter = WeiboAdapter()
        async with httpx.AsyncClient() as http:
            ctx = AdapterContext(http=http, settings=settings, secrets={}, clock=lambda: now)
            results = [
                await adapter.check(CheckTarget(id, Platform.WEIBO, uid, "石泉统计"), ctx)
                for id, uid in accounts.items()
            ]
        return [r.observation for r in results]

    return asyncio.run(go())


def test_the_account_page_words_each_checks_detail_in_chinese(client, city, no_monitor_env):
    now = datetime.now(UTC)

    def weibo(uid: str, **extra: object) -> SimAccount:
        posts = [now - timedelta(days=2), now - timedelta(days=9)]
        return SimAccount(platform="weibo", account_id=uid, name=uid, unit="单位", region="县",
                          posts=posts, **extra)  # fmt: skip

    server = SimulatorServer(
        Scenario(accounts=[weibo("1111"), weibo("2222", fault="rate_limit")]), port=0
    )
    server.start()
    try:
        read, limited = _weibo_checks(
            server.url,
            {city.ids["石泉统计"]: "1111", city.ids["汉阴农林<script>alert(1)</script>"]: "2222"},
        )
    finally:
        server.stop()
    assert read.outcome is Outcome.OK and read.detail == "2 posts read"
    assert limited.outcome is Outcome.RATE_LIMITED
    with Store.open(city.db) as store:
        store.add_observations([read, limited])
    page = client.get(f"/accounts/{city.ids['石泉统计']}").text
    assert "读取了 2 条发布" in page and "posts read" not in page
    page = client.get(f"/accounts/{city.ids['汉阴农林<script>alert(1)</script>']}").text
    assert "主页资料：HTTP 418（微博限流或反爬拦截）" in page
    assert "rate limit" not in page and "profile:" not in page
    # The JSON keeps the English detail with its code beside it.
    newest = client.get(f"/api/accounts/{city.ids['石泉统计']}").json()["observations"][0]
    assert newest["detail"] == "2 posts read" and newest["detail_code"] == "weibo.posts_read"
    assert newest["detail_label"] == "读取了 2 条发布"
