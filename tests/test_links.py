"""Only http(s) links are stored, wherever they come from.

The family: `javascript:` in any case or with leading blanks, control characters
or a tab inside the scheme, `data:`, `vbscript:`, `file:`, scheme-relative
`//host`, relative paths, `http:` without a host, broken IPv6 hosts, other
schemes, blanks inside, absurd lengths. Through `monitor observe --url`, the
API, an adapter's observation reaching the store, a roster's feed URL, the
settings' base URLs, and a database written before the rule (migration 0010).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from test_api_support import build_city, settings_for

from monitor.api import create_app
from monitor.cli import main
from monitor.links import http_link
from monitor.models import Observation, Outcome
from monitor.roster import read_roster
from monitor.settings import ConfigError, load_settings
from monitor.store import MIGRATIONS, Store

GOOD = ["https://m.weibo.cn/detail/1", "HTTP://EXAMPLE.ORG", "http://10.1.2.3:8080/feed.xml"]
BAD = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "\x01javascript:alert(1)",
    "javascript://%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "//evil.example/x",
    "/relative/path",
    "http:/no-host",
    "http://",
    "https://:80/",
    "http://[::1",
    "ftp://example.org/x",
    "https://exa mple.org/",
    "https://example.org/\nSet-Cookie: x",
    "https://example.org/" + "a" * 5000,
]


@pytest.mark.parametrize("url", GOOD)
def test_http_links_are_kept(url):
    assert http_link(f"  {url} ") == url


@pytest.mark.parametrize("url", BAD)
def test_everything_else_is_no_link(url):
    assert http_link(url) is None


@pytest.fixture
def db(tmp_path, monkeypatch, capsys):
    path = tmp_path / "m.db"
    monkeypatch.setenv("MONITOR_DB", str(path))
    roster = tmp_path / "r.csv"
    roster.write_text("类别,主办单位,平台,账号名称\n市直部门,市统计局,微博,统计发布\n", "utf-8")
    assert main(["import", str(roster)]) == 0
    capsys.readouterr()
    return path


def stored_urls(db) -> list[str | None]:
    with Store.open(db) as store:
        return [r[0] for r in store.conn.execute("SELECT post_url FROM observations ORDER BY id")]


@pytest.mark.parametrize("url", BAD)
def test_observe_refuses_a_url_that_is_no_http_link_and_stores_nothing(db, capsys, url):
    code = main(["observe", "统计发布", "--latest-post", "2020-02-18", "--url", url])
    _out, err = capsys.readouterr()
    assert code == 2 and "--url" in err and err.count("\n") == 1, err
    assert stored_urls(db) == []


def test_observe_stores_an_http_link(db, capsys):
    assert main(["observe", "统计发布", "--latest-post", "2020-02-18", "--url", GOOD[0]]) == 0
    capsys.readouterr()
    assert stored_urls(db) == [GOOD[0]]


def test_the_api_refuses_the_same_links(tmp_path):
    city = build_city(tmp_path)
    client = TestClient(create_app(settings_for(token="t"), city.db, warm=False))
    account = str(min(city.ids.values()))
    for url in BAD:
        body = {"account": account, "latest_post": "2020-02-18", "url": url}
        answer = client.post("/api/observations", json=body, headers={"Authorization": "Bearer t"})
        assert answer.status_code == 422, (url, answer.text)
        assert "url" in answer.json()["message"]


def test_a_platform_link_that_is_no_http_link_is_dropped_by_the_store(db):
    seen = datetime(2020, 3, 4, tzinfo=UTC)
    with Store.open(db) as store:
        account = store.resolve_account("统计发布")
        observations = [
            Observation(account, seen, "weibo", Outcome.OK, seen, post_url=url)
            for url in [*BAD, GOOD[0]]
        ]
        with store.transaction():
            store.add_observation(observations[0])
        store.add_observations(observations[1:])
    assert stored_urls(db) == [None] * len(BAD) + [GOOD[0]]


@pytest.mark.parametrize("url", ["javascript:alert(1)", "http://:80/feed", "//rss.example/x"])
def test_a_roster_feed_url_that_is_no_http_link_is_a_problem(tmp_path, url):
    path = tmp_path / "r.csv"
    path.write_text(f"类别,主办单位,平台,账号名称,订阅地址\n市直部门,局,RSS,源,{url}\n", "utf-8")
    (problem,) = read_roster(path).problems
    assert problem.row == 2 and "http" in problem.message


@pytest.mark.parametrize("url", ["javascript:alert(1)", "http://", "//m.weibo.cn"])
def test_a_base_url_setting_that_is_no_http_link_is_refused(monkeypatch, url):
    monkeypatch.setenv("MONITOR_WEIBO__BASE_URL", url)
    with pytest.raises(ConfigError, match=r"weibo\.base_url"):
        load_settings(None)


def test_a_database_from_before_the_rule_loses_its_non_http_links(tmp_path):
    path = tmp_path / "old.db"
    old = Store.open(path, migrate=False)
    old.migrate(upto="0012_identity_text")
    now = "2020-03-04T00:00:00.000000+00:00"
    old.conn.executescript(
        f"""
        INSERT INTO units (id, name, created_at) VALUES (1, '局', '{now}');
        INSERT INTO accounts (id, identity, platform, account_id, roster_order, created_at)
            VALUES (1, 'weibo:name:x', 'weibo', '', 0, '{now}');
        INSERT INTO observations (id, account, observed_at, source, outcome, evidence,
                                  post_url, recorded_at)
            VALUES (1, 1, '{now}', 'manual', 'ok', 1, 'javascript:alert(1)', '{now}'),
                   (2, 1, '{now}', 'manual', 'ok', 1, 'https://m.weibo.cn/1', '{now}');
        INSERT INTO alerts (id, account, kind, opened_at, evidence)
            VALUES (1, 1, 'zombie', '{now}', '{{"url": "JAVASCRIPT:alert(1)", "source": "manual"}}'),
                   (2, 1, 'suspended', '{now}', '{{"url": "https://m.weibo.cn/1"}}');
        """
    )
    old.close()
    with Store.open(path) as store:
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
        urls = [r[0] for r in store.conn.execute("SELECT post_url FROM observations ORDER BY id")]
        evidence = [
            json.loads(r[0]) for r in store.conn.execute("SELECT evidence FROM alerts ORDER BY id")
        ]
    assert urls == [None, "https://m.weibo.cn/1"]
    assert evidence == [{"url": None, "source": "manual"}, {"url": "https://m.weibo.cn/1"}]
