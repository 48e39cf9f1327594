"""WeChat post dates come from the send date, never from a day someone read an article.

Real parts: the CLI on a real SQLite file and the simulator over loopback sockets;
the simulator's getarticlesummary lists a 群发 article on every day it is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from simulated_city import SH, serving

from monitor.cli import main
from monitor.simulator import Scenario, SimAccount, SimulatorServer

READ_YESTERDAY = "wx0000000000000035"
ONLY_TOTAL = "wx0000000000000002"
SUMMARY = "/datacube/getarticlesummary"


def _account(appid: str, posts: list[datetime], **extra: Any) -> SimAccount:
    return SimAccount(
        platform="wechat",
        account_id=appid,
        name=f"测试发布{appid[-2:]}",
        unit="市测试局",
        region="市直部门",
        posts=posts,
        publish="mass",
        **extra,
    )


@pytest.fixture
def city(tmp_path: Path, monkeypatch) -> Iterator[tuple[SimulatorServer, Path, datetime]]:
    now = datetime.now(UTC)
    sent = now - timedelta(days=35)
    scenario = Scenario(
        accounts=[
            # Sent 35 days ago; people kept reading it, yesterday too.
            _account(READ_YESTERDAY, [sent], read_days=40),
            # May not call getarticletotaldetail: its dates come from getarticletotal.
            _account(ONLY_TOTAL, [now - timedelta(days=2)], datacube="total_only"),
        ]
    )
    with serving(scenario, tmp_path, monkeypatch, seed=5) as (server, roster):
        yield server, roster, sent


def _run(capsys, *args: str) -> Any:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out) if "--json" in args else out


def _read_yesterday(server: SimulatorServer, appid: str) -> list[dict[str, Any]]:
    """What getarticlesummary says about yesterday: the articles read that day."""
    yesterday = (datetime.now(UTC).astimezone(SH) - timedelta(days=1)).date().isoformat()
    with httpx.Client(base_url=server.url, trust_env=False, timeout=5) as c:
        token = c.get(
            "/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": appid,
                "secret": server.scenario.wechat_secret,
            },
        ).json()["access_token"]
        body = {"begin_date": yesterday, "end_date": yesterday}
        return c.post(SUMMARY, params={"access_token": token}, json=body).json()["list"]


def test_an_account_that_sent_35_days_ago_but_was_read_yesterday_is_a_zombie(city, capsys):
    server, roster, sent = city
    # The trap is real: by reads, this account looks as if it posted yesterday.
    assert len(_read_yesterday(server, READ_YESTERDAY)) == 1
    _run(capsys, "import", str(roster))
    server.reset_stats()
    reports = {r["account_id"]: r for r in _run(capsys, "check", "--all", "--json")}
    report = reports[READ_YESTERDAY]
    assert report["outcome"] == "ok"
    assert str(report["latest_post_at"])[:10] == sent.astimezone(SH).date().isoformat()
    assert report["state"] == "zombie"
    assert server.stats["by_path"].get(SUMMARY, 0) == 0


def test_an_account_refused_the_newer_endpoint_is_dated_by_getarticletotal(city, capsys):
    server, roster, _ = city
    _run(capsys, "import", str(roster))
    reports = {r["account_id"]: r for r in _run(capsys, "check", "--all", "--json")}
    report = reports[ONLY_TOTAL]
    assert report["outcome"] == "ok"
    assert report["state"] == "active"
    assert server.stats["by_path"].get("/datacube/getarticletotal", 0) >= 1
