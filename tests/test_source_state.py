"""Adapter state belongs to what it was gathered from: a roster that re-points an
account at another feed URL or AppID starts that state afresh.

Real parts: the CLI on a real SQLite file, the simulator (WeChat) and a small feed
server (Last-Modified only, as many bridges send) over loopback sockets.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from simulated_city import point_monitor_at

from monitor.cli import main
from monitor.simulator import Scenario, SimAccount, SimulatorServer
from monitor.simulator.ready import SECRET_ENV

SH_HOURS = timedelta(hours=8)
COLUMNS = ["类别", "主办单位", "平台", "账号名称", "账号ID", "状态", "source", "feed_url", "appid"]


def _roster(path: Path, row: dict[str, str]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*COLUMNS, "secret_env"])
        writer.writeheader()
        writer.writerow({"类别": "市直部门", "主办单位": "市测试局", "状态": "运行", **row})
    return path


def _check(capsys) -> dict[str, Any]:
    code = main(["check", "--all", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    [report] = json.loads(out)
    return report


def _import(capsys, roster: Path) -> None:
    code = main(["import", str(roster)])
    _, err = capsys.readouterr()
    assert code == 0, err


def _latest_day(report: dict[str, Any]) -> str:
    return str(report["latest_post_at"])[:10]


# --- WeChat: the datacube scan of one AppID is not another's -----------------------


@pytest.fixture
def two_wechat_accounts(tmp_path, monkeypatch) -> Iterator[tuple[datetime, datetime]]:
    now = datetime.now(UTC)
    recent, old = now - timedelta(days=3), now - timedelta(days=50)
    scenario = Scenario(
        accounts=[
            SimAccount(
                platform="wechat",
                account_id=appid,
                name=name,
                unit="市测试局",
                region="市直部门",
                posts=[post],
                publish="mass",
            )
            for appid, name, post in (
                ("wxaaaaaaaaaaaaaaaa", "别的账号", recent),
                ("wxbbbbbbbbbbbbbbbb", "测试发布", old),
            )
        ]
    )
    server = SimulatorServer(scenario, seed=3)
    url = server.start()
    try:
        point_monitor_at(monkeypatch, url, scenario, tmp_path / "m.db", timeout_s="5")
        yield recent, old
    finally:
        server.stop()


def test_a_corrected_appid_scans_the_new_account_from_scratch(
    two_wechat_accounts, tmp_path, capsys
) -> None:
    recent, old = two_wechat_accounts
    row = {
        "平台": "微信",
        "账号名称": "测试发布",
        "账号ID": "gh_test0001",
        "secret_env": SECRET_ENV,
    }
    # The roster first names another account's AppID (an active one) ...
    _import(capsys, _roster(tmp_path / "r1.csv", {**row, "appid": "wxaaaaaaaaaaaaaaaa"}))
    first = _check(capsys)
    assert first["outcome"] == "ok"
    assert _latest_day(first) == (recent + SH_HOURS).date().isoformat()
    # ... then the right one, whose only post is 50 days old.
    _import(capsys, _roster(tmp_path / "r2.csv", {**row, "appid": "wxbbbbbbbbbbbbbbbb"}))
    second = _check(capsys)
    assert second["outcome"] == "ok"
    # The first AppID's scan must not answer for the second: its post is not evidence here.
    assert _latest_day(second) == (old + SH_HOURS).date().isoformat()
    assert second["state"] == "zombie"


# --- feeds: a Last-Modified of one URL is not sent to another ----------------------


class _Feeds:
    """Two RSS feeds with only Last-Modified validators; logs conditional requests."""

    def __init__(self, now: datetime) -> None:
        self.posts = {"/a.xml": now - timedelta(days=2), "/b.xml": now - timedelta(days=40)}
        self.log: list[tuple[str, str | None, int]] = []

    def answer(self, path: str, since: str | None) -> tuple[int, bytes, str]:
        post = self.posts[path].replace(microsecond=0)
        modified = format_datetime(post, usegmt=True)
        if since and parsedate_to_datetime(since) >= post:
            self.log.append((path, since, 304))
            return 304, b"", modified
        self.log.append((path, since, 200))
        item = (
            f"<item><title>{path}</title><link>https://example.org{path}/1</link>"
            f"<guid>{path}-1</guid><pubDate>{modified}</pubDate></item>"
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>t</title><link>https://example.org</link><description>d</description>"
            f"{item}</channel></rss>"
        )
        return 200, body.encode(), modified


@pytest.fixture
def feeds(tmp_path, monkeypatch) -> Iterator[tuple[_Feeds, str]]:
    served = _Feeds(datetime.now(UTC))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body, modified = served.answer(self.path, self.headers.get("If-Modified-Since"))
            self.send_response(status)
            self.send_header("Last-Modified", modified)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    point_monitor_at(
        monkeypatch,
        base,
        Scenario(accounts=[]),
        tmp_path / "m.db",
        timeout_s="5",
        LIMITS__FEED__RATE_PER_S="1000",
    )
    try:
        yield served, base
    finally:
        server.shutdown()
        server.server_close()


FEED_ROW = {"平台": "抖音", "账号名称": "测试抖音", "账号ID": "dy_test0001", "source": "feed"}


def test_a_new_feed_url_is_fetched_without_the_old_urls_validators(feeds, tmp_path, capsys) -> None:
    served, base = feeds
    _import(capsys, _roster(tmp_path / "r1.csv", {**FEED_ROW, "feed_url": f"{base}/a.xml"}))
    assert _check(capsys)["outcome"] == "ok"
    _import(capsys, _roster(tmp_path / "r2.csv", {**FEED_ROW, "feed_url": f"{base}/b.xml"}))
    second = _check(capsys)
    # Sent to b.xml, a.xml's Last-Modified would get a 304 that repeats a.xml's post.
    assert served.log[-1] == ("/b.xml", None, 200)
    assert _latest_day(second) == (served.posts["/b.xml"] + SH_HOURS).date().isoformat()
    assert second["state"] == "zombie"
    # Back on the same URL, the validators are used again.
    assert _check(capsys)["latest_post_at"] == second["latest_post_at"]
    assert served.log[-1][0] == "/b.xml" and served.log[-1][2] == 304


def test_a_state_saved_before_keys_were_kept_is_still_used_and_gets_its_key(
    feeds, tmp_path, capsys
) -> None:
    served, base = feeds
    _import(capsys, _roster(tmp_path / "r1.csv", {**FEED_ROW, "feed_url": f"{base}/a.xml"}))
    _check(capsys)
    db = tmp_path / "m.db"
    with sqlite3.connect(db) as conn:  # as an upgraded database has it
        conn.execute("UPDATE source_state SET key = ''")
    conn.close()
    again = _check(capsys)
    assert served.log[-1][2] == 304 and again["outcome"] == "ok"
    with sqlite3.connect(db) as conn:
        [(key,)] = conn.execute("SELECT key FROM source_state").fetchall()
    conn.close()
    assert key.endswith(f"{base}/a.xml|")
