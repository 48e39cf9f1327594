"""The Weibo visitor wall: a visitor cookie from the genvisitor flow, in memory only.

End to end over the simulator (the CLI, or the checker, on a real SQLite file, over
loopback sockets): wall -> visitor cookie -> the same check succeeds; the flow
failing -> `blocked`, never silence. The flow's answers are also read from
scripted bodies (httpx.MockTransport) for the shapes the simulator does not send.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from simulated_city import serving

from adapters.base import AdapterContext
from adapters.weibo_visitor import VisitorPass, obtain
from monitor.checks.fetch import Checker
from monitor.cli import main
from monitor.messages import render
from monitor.settings import SecretLookup, Settings, load_settings
from monitor.simulator import Scenario, SimAccount, SimulatorServer
from monitor.store import Store

UIDS = ("3300000001", "3300000002", "3300000003")
VISITOR = "/visitor/*"
INDEX = "/api/container/getIndex"


def _scenario(wall: str | None) -> Scenario:
    now = datetime.now(UTC)
    return Scenario(
        accounts=[
            SimAccount(
                platform="weibo",
                account_id=uid,
                name=f"测试微博{i}",
                unit="市测试局",
                region="市直部门",
                posts=[now - timedelta(days=1 + i, hours=3)],
            )
            for i, uid in enumerate(UIDS)
        ],
        weibo_wall=wall,  # type: ignore[arg-type]
    )


@pytest.fixture
def walled(request, tmp_path: Path, monkeypatch) -> Iterator[tuple[SimulatorServer, Path]]:
    """A simulated city behind the visitor wall (mode from the test's parametrize)."""
    with serving(_scenario(request.param), tmp_path, monkeypatch, seed=11) as served:
        yield served


def _cli(capsys, *args: str) -> Any:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out) if "--json" in args else out


def _check_all(capsys, roster: Path) -> dict[str, dict[str, Any]]:
    _cli(capsys, "import", str(roster))
    return {r["account_id"]: r for r in _cli(capsys, "check", "--all", "--json")}


def _database_text(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(repr(row) for t in tables for row in conn.execute(f"SELECT * FROM [{t}]"))
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("walled", "flow_requests"), [("visitor", 1), ("visitor_incarnate", 2)], indirect=["walled"]
)
def test_behind_the_wall_one_visitor_flow_lets_every_check_succeed(
    walled, flow_requests: int, capsys, tmp_path: Path
) -> None:
    server, roster = walled
    reports = _check_all(capsys, roster)
    assert {r["outcome"] for r in reports.values()} == {"ok"}
    assert {r["state"] for r in reports.values()} == {"active"}
    stats = server.stats
    # Three concurrent checks met the wall; the flow ran once between them.
    assert stats["by_path"][VISITOR] == flow_requests
    assert server.world.visitor_issued == 1
    # Each check: a walled profile call, then profile and timeline with the cookie.
    assert stats["by_path"][INDEX] == 3 * len(UIDS)
    # The cookie is a secret: nowhere in the database.
    [sub] = server.world.visitor_subs
    assert sub not in _database_text(tmp_path / "m.db")
    assert "SUB=" not in _database_text(tmp_path / "m.db")


@pytest.mark.parametrize("walled", ["visitor_broken"], indirect=True)
def test_when_the_flow_fails_every_check_is_blocked_naming_the_setting_never_silent(
    walled, capsys
) -> None:
    server, roster = walled
    reports = _check_all(capsys, roster)
    for report in reports.values():
        assert report["outcome"] == "blocked"
        assert report["state"] == "unknown"
        assert report["latest_post_at"] is None
        assert "/visitor/visitor (visitor wall)" in report["detail"]
        assert "getting a visitor cookie failed: genvisitor2: retcode 50020" in report["detail"]
        assert "set weibo.cookie (MONITOR_WEIBO__COOKIE" in report["detail"]
        zh = report["detail_label"]
        assert zh == render(report["detail_code"], report["detail_params"], "zh")
        assert "获取访客 Cookie 失败：genvisitor2：retcode 50020" in zh, zh
        assert "（访客验证墙）" in zh and "请把 weibo.cookie" in zh
    status = {r["account_id"]: r for r in _cli(capsys, "status", "--json")}
    assert {r["state"] for r in status.values()} == {"unknown"}
    assert server.world.visitor_issued == 0
    # One failed flow is not repeated by every check that meets the wall after it.
    assert server.stats["by_path"][VISITOR] == 1


@pytest.mark.parametrize("walled", ["visitor"], indirect=True)
def test_with_visitor_off_the_wall_is_blocked_and_says_which_setting_to_fill(
    walled, capsys, monkeypatch
) -> None:
    server, roster = walled
    monkeypatch.setenv("MONITOR_WEIBO__VISITOR", "off")
    reports = _check_all(capsys, roster)
    assert {r["outcome"] for r in reports.values()} == {"blocked"}
    text = json.dumps(reports, ensure_ascii=False)
    assert "MONITOR_WEIBO__COOKIE" in text and 'weibo.visitor = \\"auto\\"' in text
    assert server.stats["by_path"].get(VISITOR, 0) == 0


def _visitor_cookie(server: SimulatorServer) -> str:
    with httpx.Client(base_url=server.url, trust_env=False, timeout=5) as c:
        body = c.post("/visitor/genvisitor2", data={"cb": "cb"}).text
    data = json.loads(body[body.index("(") + 1 : body.rindex(")")])["data"]
    return f"SUB={data['sub']}; SUBP={data['subp']}"


@pytest.mark.parametrize("walled", ["visitor"], indirect=True)
def test_a_configured_cookie_wins_and_the_flow_never_runs(walled, capsys, monkeypatch) -> None:
    server, roster = walled
    monkeypatch.setenv("MONITOR_WEIBO__COOKIE", _visitor_cookie(server))
    server.reset_stats()
    reports = _check_all(capsys, roster)
    assert {r["outcome"] for r in reports.values()} == {"ok"}
    assert server.stats["by_path"].get(VISITOR, 0) == 0
    assert server.stats["by_path"][INDEX] == 2 * len(UIDS)


@pytest.mark.parametrize("walled", ["visitor"], indirect=True)
def test_a_refused_configured_cookie_is_blocked_and_not_replaced(walled, capsys, monkeypatch):
    server, roster = walled
    monkeypatch.setenv("MONITOR_WEIBO__COOKIE", "SUB=_2AkMexpired; SUBP=0033x")
    reports = _check_all(capsys, roster)
    assert {r["outcome"] for r in reports.values()} == {"blocked"}
    assert "configured weibo.cookie was refused" in json.dumps(reports, ensure_ascii=False)
    assert server.stats["by_path"].get(VISITOR, 0) == 0


@pytest.mark.parametrize("walled", ["visitor"], indirect=True)
def test_the_cookie_is_reused_across_checks_renewed_when_the_wall_returns_and_paced_as_weibo(
    walled, capsys, tmp_path: Path
) -> None:
    server, roster = walled
    _cli(capsys, "import", str(roster))
    settings = load_settings()

    async def sweeps() -> tuple[list[str], list[str], list[str], int]:
        with Store.open(tmp_path / "m.db") as store:
            accounts = store.accounts_at(datetime.now(UTC))
            async with Checker(store, settings, SecretLookup()) as checker:
                first = [r.observation.outcome.value for r in await checker.check_many(accounts)]
                again = [r.observation.outcome.value for r in await checker.check_many(accounts)]
                server.expire_visitor_cookies()
                renewed = [r.observation.outcome.value for r in await checker.check_many(accounts)]
                return first, again, renewed, checker.requests["weibo"]

    first, again, renewed, paced = asyncio.run(sweeps())
    assert first == again == renewed == ["ok"] * len(UIDS)
    # Reused by the second sweep; a new one only once the old one went stale.
    assert server.world.visitor_issued == 2
    stats = server.stats
    assert stats["by_path"][VISITOR] == 2
    # Every request to the platform, the flow's too, went through the Weibo pacer.
    assert (
        paced
        == stats["by_protocol"]["weibo"]
        == stats["by_path"][VISITOR] + stats["by_path"][INDEX]
    )


# --- the flow's answers, scripted ------------------------------------------------------

BASE = "https://visitor.passport.weibo.cn"
SUB, SUBP = "_2AkMabc-DEF_123", "0033WrSXqPxfM72-Ws9jqgMF55529P9D9Wxyz"


def _run_flow(handler) -> tuple[str | None, str]:
    async def go() -> tuple[str | None, str]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            ctx = AdapterContext(
                http=client, settings=Settings(), secrets=SecretLookup(), clock=lambda: None
            )
            return await obtain(ctx)  # type: ignore[arg-type]

    return asyncio.run(go())


def _jsonp(callback: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    text = f"window.{callback} && {callback}({json.dumps(body)});"
    return httpx.Response(200, text=text, headers=headers)


def test_genvisitor2_answering_the_cookie_needs_no_second_request() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        data = {"sub": SUB, "subp": SUBP, "tid": "t"}
        return _jsonp("visitor_gray_callback", {"retcode": 20000000, "msg": "succ", "data": data})

    assert _run_flow(handler) == (f"SUB={SUB}; SUBP={SUBP}", "")
    [post] = seen
    assert (post.method, str(post.url)) == ("POST", f"{BASE}/visitor/genvisitor2")
    assert dict(httpx.QueryParams(post.content.decode())) == {
        "cb": "visitor_gray_callback",
        "tid": "",
        "from": "weibo",
        "webdriver": "false",
    }


def test_a_tid_is_incarnated_with_its_confidence_and_the_cookie_read_from_set_cookie() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            data = {"tid": "T+1/2=", "confidence": 95, "new_tid": False}
            return _jsonp("visitor_gray_callback", {"retcode": 20000000, "data": data})
        return httpx.Response(
            200,
            text='window.cross_domain && cross_domain({"retcode":20000000,"data":{}});',
            headers=[("Set-Cookie", f"SUB={SUB}; path=/"), ("Set-Cookie", f"SUBP={SUBP}; path=/")],
        )

    assert _run_flow(handler) == (f"SUB={SUB}; SUBP={SUBP}", "")
    query = seen[1].url.params
    assert seen[1].url.path == "/visitor/visitor"
    assert (query["a"], query["t"], query["w"], query["c"], query["cb"]) == (
        "incarnate",
        "T+1/2=",
        "2",
        "095",
        "cross_domain",
    )


@pytest.mark.parametrize(
    ("response", "why"),
    [
        (httpx.Response(500, text="<html>oops</html>"), "genvisitor2: HTTP 500"),
        (httpx.Response(200, text="<html>captcha</html>"), "not a JSONP answer"),
        (_jsonp("cb", {"retcode": 50020, "msg": "system error"}), "retcode 50020 system error"),
        (_jsonp("cb", {"retcode": 20000000, "data": {}}), "neither a cookie nor a tid"),
        # A value that would break the Cookie header is never taken.
        (_jsonp("cb", {"retcode": 20000000, "data": {"sub": "a;b", "subp": "c"}}), "nor a tid"),
    ],
)
def test_a_failed_flow_says_why_and_gives_no_cookie(response: httpx.Response, why: str) -> None:
    cookie, reason = _run_flow(lambda request: response)
    assert cookie is None
    assert why in reason


def test_concurrent_walls_share_one_flow_and_a_failure_is_not_retried_at_once() -> None:
    calls: list[str] = []
    clock = [0.0]

    async def go() -> list[tuple[str | None, str]]:
        def handler(request: httpx.Request) -> httpx.Response:
            calls.append(request.url.path)
            return _jsonp("cb", {"retcode": 50020, "msg": "down"})

        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            ctx = AdapterContext(
                http=client, settings=Settings(), secrets=SecretLookup(), clock=lambda: None
            )
            visitor = VisitorPass(clock=lambda: clock[0])
            out = list(await asyncio.gather(*(visitor.renew(ctx, None) for _ in range(5))))  # type: ignore[arg-type]
            clock[0] += 601
            out.append(await visitor.renew(ctx, None))  # type: ignore[arg-type]
            return out

    results = asyncio.run(go())
    assert all(cookie is None for cookie, _ in results)
    assert "not tried again for 600 s" in results[1][1]
    assert calls == ["/visitor/genvisitor2", "/visitor/genvisitor2"]


def test_an_ok_minus_100_answer_is_passed_with_a_visitor_cookie_in_the_same_check() -> None:
    from adapters.base import CheckTarget
    from adapters.weibo import WeiboAdapter
    from monitor.models import Platform

    fixtures = Path(__file__).parent / "fixtures" / "weibo"
    profile = (fixtures / "profile_gov_account.json").read_bytes()
    timeline = (fixtures / "timeline_pinned_old_post.json").read_bytes()
    wall = (fixtures / "visitor_login_required.json").read_bytes()
    cookies: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/visitor/genvisitor2":
            data = {"sub": SUB, "subp": SUBP}
            return _jsonp("visitor_gray_callback", {"retcode": 20000000, "data": data})
        cookies.append(request.headers.get("cookie"))
        if request.headers.get("cookie") != f"SUB={SUB}; SUBP={SUBP}":
            return httpx.Response(200, content=wall)
        return httpx.Response(
            200, content=timeline if "containerid" in str(request.url) else profile
        )

    async def go() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            ctx = AdapterContext(
                http=client,
                settings=Settings(),
                secrets=SecretLookup(),
                clock=lambda: datetime(2024, 12, 6, 7, 30, tzinfo=UTC),
            )
            target = CheckTarget(id=1, platform=Platform.WEIBO, account_id="1234567890", name="x")
            adapter = WeiboAdapter()
            first = await adapter.check(target, ctx)
            second = await adapter.check(target, ctx)
            return first, second, adapter.visitor.cookie

    first, second, held = asyncio.run(go())
    assert first.observation.outcome.value == "ok", first.observation.detail
    assert second.observation.outcome.value == "ok"
    # Walled once without a cookie; every later request carried the one cookie.
    assert cookies[0] is None and cookies[1:] == [f"SUB={SUB}; SUBP={SUBP}"] * (len(cookies) - 1)
    assert held == f"SUB={SUB}; SUBP={SUBP}"
    assert SUB not in json.dumps(first.state) + (first.observation.detail or "")
