"""The dashboard's pages through TestClient: Chinese text, filters, escaping, errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from test_api_support import build_city, settings_for

from monitor.api import create_app


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
    assert ">汉阴农林科技<" not in html  # cancelled


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
