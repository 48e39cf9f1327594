"""The wechat_api adapter against a small WeChat-like HTTP server on loopback, and its scan."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from zh_check import assert_worded

from adapters.base import AdapterContext, CheckResult, CheckTarget
from adapters.wechat import WechatApiAdapter
from adapters.wechat_scan import ScanState, walk
from monitor.models import Outcome, Platform
from monitor.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "wechat"
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
TODAY = date(2026, 12, 6)
YESTERDAY = TODAY - timedelta(days=1)
SECRET = "s3cr3t-app-secret-value"
APPID = "wx1234567890abcdef"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# --- the scan, as pure state logic -------------------------------------------------


def fetcher(posted: set[date], calls: list[date], fail_on: date | None = None):
    def fetch(day: date) -> list[dict[str, Any]]:
        if day == fail_on:
            raise RuntimeError("boom")
        calls.append(day)
        return [{"msgid": f"m{day}", "title": f"t{day}"}] if day in posted else []

    return fetch


def test_the_scan_stops_at_the_newest_day_with_articles() -> None:
    calls: list[date] = []
    first = date(2026, 6, 6)
    run = walk(ScanState.initial(first), YESTERDAY, fetcher({date(2026, 12, 3)}, calls), 200)
    assert calls == [date(2026, 12, 5), date(2026, 12, 4), date(2026, 12, 3)]
    assert run.state.latest == date(2026, 12, 3)
    assert run.state.msgid == "m2026-12-03"
    assert run.state.through == YESTERDAY
    assert run.state.resolved


def test_a_first_scan_that_finds_nothing_reaches_back_to_its_first_day_only() -> None:
    calls: list[date] = []
    first = date(2026, 11, 1)
    run = walk(ScanState.initial(first), YESTERDAY, fetcher(set(), calls), 200)
    assert calls[0] == YESTERDAY and calls[-1] == first
    assert len(calls) == 35
    assert run.state.resolved and run.state.latest is None
    assert run.state.empty_from == first


def test_a_freepublish_post_bounds_the_scan_and_leaves_older_days_unclaimed() -> None:
    calls: list[date] = []
    first = date(2026, 6, 6)
    fp_day = date(2026, 11, 28)
    run = walk(ScanState.initial(first), YESTERDAY, fetcher(set(), calls), 200, known_latest=fp_day)
    # Only the days after the freepublish post can hold a newer one.
    assert calls == [YESTERDAY - timedelta(days=i) for i in range(7)]
    assert run.state.empty_from == fp_day + timedelta(days=1)
    # Nothing is claimed about the days on or before it: they remain to scan.
    assert not run.state.resolved and run.state.floor == first


def test_after_a_bounded_scan_losing_the_freepublish_post_resumes_the_scan_not_silence() -> None:
    first = date(2026, 6, 6)
    bounded = walk(
        ScanState.initial(first), YESTERDAY, fetcher(set(), []), 200, known_latest=YESTERDAY
    )
    assert not bounded.state.resolved
    calls: list[date] = []
    run = walk(bounded.state, YESTERDAY, fetcher({date(2026, 10, 1)}, calls), 200)
    assert run.state.latest == date(2026, 10, 1) and run.state.resolved


def test_a_freepublish_post_of_yesterday_needs_no_datacube_call() -> None:
    calls: list[date] = []
    run = walk(
        ScanState.initial(date(2026, 6, 6)),
        YESTERDAY,
        fetcher(set(), calls),
        200,
        known_latest=YESTERDAY,
    )
    assert calls == []
    assert not run.state.resolved


def test_the_next_check_scans_only_new_days_and_keeps_the_known_post() -> None:
    first = date(2026, 6, 6)
    state = walk(ScanState.initial(first), YESTERDAY, fetcher({date(2026, 12, 3)}, []), 200).state
    calls: list[date] = []
    run = walk(state, YESTERDAY + timedelta(days=2), fetcher(set(), calls), 200)
    assert calls == [date(2026, 12, 7), date(2026, 12, 6)]
    assert run.state.latest == date(2026, 12, 3)
    assert run.state.through == date(2026, 12, 7)


def test_a_capped_scan_keeps_progress_and_the_next_check_continues_it() -> None:
    first = TODAY - timedelta(days=365)
    calls: list[date] = []
    run = walk(
        ScanState.initial(first), YESTERDAY, fetcher({first + timedelta(days=3)}, calls), 200
    )
    assert len(calls) == 200
    assert not run.state.resolved
    assert run.state.empty_from == YESTERDAY - timedelta(days=199)
    assert run.state.floor == first
    # Next day: one new day, then the rest of the gap, until the post.
    calls2: list[date] = []
    run2 = walk(run.state, TODAY, fetcher({first + timedelta(days=3)}, calls2), 200)
    assert calls2[:2] == [TODAY, YESTERDAY]  # the newest days are always scanned again
    assert calls2[2] == YESTERDAY - timedelta(days=200)
    assert run2.state.latest == first + timedelta(days=3)
    assert run2.state.resolved


def test_an_error_mid_scan_keeps_the_days_already_scanned() -> None:
    first = date(2026, 11, 1)
    calls: list[date] = []
    run = walk(ScanState.initial(first), YESTERDAY, fetcher(set(), calls, date(2026, 12, 2)), 200)
    assert isinstance(run.error, RuntimeError)
    assert run.state.empty_from == date(2026, 12, 3)
    assert run.state.floor == first
    assert ScanState.from_dict(run.state.to_dict(), first) == run.state


def test_unreadable_state_starts_a_fresh_scan() -> None:
    first = date(2026, 6, 6)
    assert ScanState.from_dict({"dc_through": "garbage"}, first) == ScanState.initial(first)


# --- a WeChat-like server on loopback --------------------------------------------


DETAIL = "/datacube/getarticletotaldetail"
TOTAL = "/datacube/getarticletotal"
SUMMARY = "/datacube/getarticlesummary"


class FakeWechat:
    """Scripted token / freepublish / datacube endpoints; logs every request.

    `articles` are the articles SENT on a day (both send-dated endpoints serve them);
    `refused` maps a datacube path to the errcode answer it gives every call.
    """

    def __init__(self) -> None:
        self.log: list[tuple[str, dict[str, list[str]], Any]] = []
        self.queued: dict[str, list[tuple[int, bytes]]] = {}
        self.freepublish: Any = {"item": [], "total_count": 0, "item_count": 0}
        self.articles: dict[str, list[dict[str, Any]]] = {}
        self.refused: dict[str, dict[str, Any]] = {}
        self.delayed: set[str] = set()
        self.tokens = 0
        self.valid_token = ""
        self.stable_token = ""

    def queue(self, path: str, status: int, body: Any) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.queued.setdefault(path, []).append((status, raw))

    def answer(self, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        self.log.append((path, query, body))
        if self.queued.get(path):
            return self.queued[path].pop(0)
        if path == "/cgi-bin/token":
            if query.get("secret") != [SECRET]:
                return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
            self.tokens += 1
            self.valid_token = f"TOKEN{self.tokens}"
            return 200, {"access_token": self.valid_token, "expires_in": 7200}
        if path == "/cgi-bin/stable_token":
            # Like WeChat's: the same token until force_refresh asks for a new one.
            if body.get("secret") != SECRET:
                return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
            if body.get("force_refresh") or not self.stable_token:
                self.tokens += 1
                self.stable_token = f"STABLE{self.tokens}"
                self.valid_token = self.stable_token
            return 200, {"access_token": self.stable_token, "expires_in": 7200}
        if query.get("access_token") != [self.valid_token]:
            return 200, {"errcode": 40001, "errmsg": "invalid credential"}
        if path == "/cgi-bin/freepublish/batchget":
            return 200, self.freepublish
        if path in (DETAIL, TOTAL):
            assert body["begin_date"] == body["end_date"]
            if path in self.refused:
                return 200, self.refused[path]
            day = body["begin_date"]
            if day in self.delayed:
                return 200, {"list": [], "is_delay": True}
            return 200, {"list": self.articles.get(day, []), "is_delay": False}
        return 404, {"errcode": 404, "errmsg": "no such path"}

    def paths(self) -> list[str]:
        return [p for p, _, _ in self.log]

    def days(self, path: str = DETAIL) -> list[str]:
        """The days asked of one datacube endpoint, in order."""
        return [b["begin_date"] for p, _, b in self.log if p == path]


@pytest.fixture
def wechat() -> Iterator[tuple[FakeWechat, str]]:
    fake = FakeWechat()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            status, out = fake.answer(parts.path, parse_qs(parts.query), body)
            data = out if isinstance(out, bytes) else json.dumps(out).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _reply

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Env:
    def __init__(self, values: dict[str, str]):
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def check(
    adapter: WechatApiAdapter,
    base: str,
    *,
    state: dict[str, Any] | None = None,
    now: datetime = NOW,
    secrets: dict[str, str] | None = None,
    http: dict[str, Any] | None = None,
    wechat: dict[str, Any] | None = None,
    **settings: Any,
) -> CheckResult:
    async def go() -> CheckResult:
        ctx = AdapterContext(
            http=None,  # type: ignore[arg-type]  # wechatpy brings its own HTTP
            settings=Settings(
                wechat={"api_base_url": base, **(wechat or {})},
                http={"timeout_s": 5, **(http or {})},
                **settings,
            ),
            secrets=Env({"WX_SECRET": SECRET} if secrets is None else secrets),
            clock=lambda: now,
        )
        target = CheckTarget(
            id=11,
            platform=Platform.WECHAT,
            account_id=APPID,
            name="示例县发布",
            secret_env="WX_SECRET",
            state=state or {},
        )
        return await adapter.check(target, ctx)

    return asyncio.run(go())


@pytest.fixture
def adapter() -> Iterator[WechatApiAdapter]:
    a = WechatApiAdapter()
    yield a
    a.close()


def test_latest_is_the_newer_of_freepublish_and_the_datacube_scan(wechat, adapter) -> None:
    fake, base = wechat
    fake.freepublish = load("freepublish_update_time_inside_content.json")
    fake.articles["2026-12-03"] = load("totaldetail_day_with_articles.json")["list"]
    result = check(adapter, base)
    obs = result.observation
    assert obs.outcome is Outcome.OK
    # freepublish's newest: update_time 1796097600 = 2026-12-01 12:00 Shanghai; 群发 on 12-03 wins.
    assert obs.latest_post_at == datetime(2026, 12, 3, tzinfo=SH)
    assert obs.post_id == "2650000001_1"
    assert obs.post_title == "示例县召开冬季安全生产工作会议"
    assert obs.post_url == "https://mp.weixin.qq.com/s/ExampleMassArticle01"
    assert "getarticletotaldetail" in (obs.detail or "")
    assert result.state["dc_latest"] == "2026-12-03"
    assert result.state["dc_through"] == "2026-12-05"
    assert fake.days() == ["2026-12-05", "2026-12-04", "2026-12-03"]
    assert fake.days(TOTAL) == [] and fake.days(SUMMARY) == []
    assert fake.log[0][1]["appid"] == [APPID]


def test_freepublish_update_time_inside_content_is_read(wechat, adapter) -> None:
    fake, base = wechat
    published = load("freepublish_update_time_inside_content.json")
    published["item"] = published["item"][:1]  # only the item with update_time in content
    fake.freepublish = published
    fake.articles["2026-11-20"] = [{"msgid": "1", "title": "older"}]
    obs = check(adapter, base).observation
    assert obs.latest_post_at == datetime.fromtimestamp(1795672800, SH)
    assert obs.post_url == "https://mp.weixin.qq.com/s/ExampleArticle0001"
    assert obs.post_id == "Pt3Mxl0ExampleArticle0001"


def test_nothing_found_is_ok_with_silent_since_the_first_scanned_day(wechat, adapter) -> None:
    _, base = wechat
    result = check(adapter, base, policy={"suspended_after": "1mo"})
    obs = result.observation
    assert obs.outcome is Outcome.OK
    assert obs.latest_post_at is None
    assert obs.silent_since == date(2026, 11, 6)
    assert result.state["dc_empty_from"] == "2026-11-06"


def test_the_token_is_cached_across_checks_and_the_scan_is_incremental(wechat, adapter) -> None:
    fake, base = wechat
    fake.articles["2026-12-04"] = [{"msgid": "9", "title": "t"}]
    first = check(adapter, base)
    fake.log.clear()
    second = check(adapter, base, state=first.state, now=NOW + timedelta(days=1))
    assert fake.tokens == 1
    assert fake.days() == ["2026-12-06", "2026-12-05"]  # the newest two days, always rescanned
    assert "/cgi-bin/token" not in fake.paths()
    assert second.observation.latest_post_at == datetime(2026, 12, 4, tzinfo=SH)
    assert second.state["dc_through"] == "2026-12-06"


def test_a_rejected_token_is_refreshed_once(wechat, adapter) -> None:
    fake, base = wechat
    fake.articles["2026-12-05"] = [{"msgid": "1", "title": "t"}]
    check(adapter, base)
    fake.valid_token = "ROTATED-ELSEWHERE"  # our cached token no longer works
    obs = check(adapter, base).observation
    assert obs.outcome is Outcome.OK
    assert fake.tokens == 2


def test_a_token_rejected_twice_is_an_auth_error(wechat, adapter) -> None:
    fake, base = wechat
    for _ in range(2):
        fake.queue("/cgi-bin/freepublish/batchget", 200, {"errcode": 42001, "errmsg": "expired"})
    obs = check(adapter, base).observation
    assert obs.outcome is Outcome.AUTH_ERROR
    assert "42001" in (obs.detail or "")


STABLE = {"token_api": "stable_token"}


def test_stable_token_mode_posts_the_credentials_and_never_calls_cgi_bin_token(
    wechat, adapter
) -> None:
    fake, base = wechat
    fake.articles["2026-12-04"] = [{"msgid": "9", "title": "t"}]
    obs = check(adapter, base, wechat=STABLE).observation
    assert obs.outcome is Outcome.OK, obs.detail
    assert obs.latest_post_at == datetime(2026, 12, 4, tzinfo=SH)
    assert "/cgi-bin/token" not in fake.paths()
    [(_, query, body)] = [entry for entry in fake.log if entry[0] == "/cgi-bin/stable_token"]
    assert query == {}  # the secret travels in the POST body, never in a URL
    assert body == {
        "grant_type": "client_credential",
        "appid": APPID,
        "secret": SECRET,
        "force_refresh": False,
    }


def test_stable_token_mode_forces_a_refresh_only_after_a_rejected_token(wechat, adapter) -> None:
    fake, base = wechat
    check(adapter, base, wechat=STABLE)
    fake.valid_token = "INVALIDATED"  # the stable token we cached stops working
    obs = check(adapter, base, wechat=STABLE).observation
    assert obs.outcome is Outcome.OK, obs.detail
    asks = [body["force_refresh"] for p, _, body in fake.log if p == "/cgi-bin/stable_token"]
    # Without force_refresh WeChat would hand the rejected token back.
    assert asks == [False, True]
    assert fake.tokens == 2


@pytest.mark.parametrize(
    ("body", "outcome", "detail_part"),
    [
        ({"errcode": 40125, "errmsg": "invalid appsecret"}, Outcome.AUTH_ERROR, "AppSecret"),
        ({"errcode": 40164, "errmsg": "invalid ip 1.2.3.4"}, Outcome.AUTH_ERROR, "IP whitelist"),
        ({"errcode": 45009, "errmsg": "reach max api"}, Outcome.RATE_LIMITED, "45009"),
        (b"not json", Outcome.PARSE_ERROR, "not json"),
    ],
)
def test_stable_token_answers_map_to_outcomes_like_token_ones(
    wechat, adapter, body: Any, outcome: Outcome, detail_part: str
) -> None:
    fake, base = wechat
    fake.queue("/cgi-bin/stable_token", 200, body)
    obs = check(adapter, base, wechat=STABLE).observation
    assert obs.outcome is outcome
    assert detail_part in (obs.detail or "")
    assert SECRET not in (obs.detail or "")
    assert_worded(obs)


@pytest.mark.parametrize(
    ("path", "status", "body", "outcome", "detail_part"),
    [
        (
            "/cgi-bin/token",
            200,
            {"errcode": 40013, "errmsg": "invalid appid"},
            Outcome.AUTH_ERROR,
            "AppID",
        ),
        (
            "/cgi-bin/token",
            200,
            {"errcode": 40125, "errmsg": "invalid appsecret"},
            Outcome.AUTH_ERROR,
            "AppSecret",
        ),
        (
            "/cgi-bin/token",
            200,
            {"errcode": 40164, "errmsg": "invalid ip 1.2.3.4"},
            Outcome.AUTH_ERROR,
            "IP whitelist",
        ),
        (
            "/cgi-bin/freepublish/batchget",
            200,
            {"errcode": 48001, "errmsg": "api unauthorized"},
            Outcome.AUTH_ERROR,
            "48001",
        ),
        (
            "/cgi-bin/freepublish/batchget",
            200,
            {"errcode": 45009, "errmsg": "reach max api daily quota limit"},
            Outcome.RATE_LIMITED,
            "45009",
        ),
        (
            "/cgi-bin/freepublish/batchget",
            200,
            {"errcode": -1, "errmsg": "system error"},
            Outcome.TRANSIENT,
            "busy",
        ),
        (
            "/cgi-bin/freepublish/batchget",
            200,
            {"errcode": 99999, "errmsg": "??"},
            Outcome.PARSE_ERROR,
            "99999",
        ),
        ("/cgi-bin/freepublish/batchget", 502, b"bad gateway", Outcome.TRANSIENT, "HTTP 502"),
        ("/cgi-bin/freepublish/batchget", 200, b"<html>oops</html>", Outcome.PARSE_ERROR, "oops"),
        (
            "/cgi-bin/freepublish/batchget",
            200,
            {"item": [{"article_id": "x"}]},
            Outcome.PARSE_ERROR,
            "update_time",
        ),
        ("/cgi-bin/token", 200, b"not json", Outcome.PARSE_ERROR, "not json"),
        ("/cgi-bin/token", 200, {"expires_in": 7200}, Outcome.PARSE_ERROR, "access_token"),
        (DETAIL, 200, {"nolist": []}, Outcome.PARSE_ERROR, "getarticletotaldetail"),
        (DETAIL, 200, {"list": {}}, Outcome.PARSE_ERROR, "no list"),
        (DETAIL, 500, b"", Outcome.TRANSIENT, "HTTP 500"),
        (DETAIL, 200, {"errcode": 40164, "errmsg": "invalid ip"}, Outcome.AUTH_ERROR, "IP"),
    ],
)
def test_platform_answers_map_to_outcomes(
    wechat,
    adapter,
    path: str,
    status: int,
    body: Any,
    outcome: Outcome,
    detail_part: str,
) -> None:
    fake, base = wechat
    fake.queue(path, status, body)
    obs = check(adapter, base).observation
    assert obs.outcome is outcome
    assert detail_part in (obs.detail or "")
    assert SECRET not in (obs.detail or "")
    assert_worded(obs)


@pytest.mark.parametrize("path", ["/cgi-bin/token", "/cgi-bin/freepublish/batchget"])
def test_an_answer_over_the_byte_cap_is_a_parse_error_naming_the_cap(wechat, adapter, path) -> None:
    fake, base = wechat
    fake.queue(path, 200, {"item": [], "padding": "x" * 50_000})
    obs = check(adapter, base, http={"max_body_bytes": 20_000}).observation
    assert obs.outcome is Outcome.PARSE_ERROR
    assert "larger than 20000 bytes (http.max_body_bytes)" in (obs.detail or "")
    assert SECRET not in (obs.detail or "")
    assert_worded(obs)


def test_an_answer_within_the_byte_cap_is_read_whole(wechat, adapter) -> None:
    fake, base = wechat
    fake.freepublish = {"item": [], "total_count": 0, "item_count": 0, "padding": "x" * 15_000}
    obs = check(adapter, base, http={"max_body_bytes": 20_000}).observation
    assert obs.outcome is Outcome.OK, obs.detail


def test_a_failure_mid_scan_keeps_scan_progress(wechat, adapter) -> None:
    fake, base = wechat
    fake.queue(DETAIL, 200, {"list": []})
    fake.queue(DETAIL, 200, {"errcode": 45009, "errmsg": "quota"})
    result = check(adapter, base)
    assert result.observation.outcome is Outcome.RATE_LIMITED
    assert result.state["dc_empty_from"] == "2026-12-05"
    assert result.state["dc_through"] == "2026-12-05"


def test_a_missing_secret_env_var_is_an_auth_error_without_any_request(wechat, adapter) -> None:
    fake, base = wechat
    obs = check(adapter, base, secrets={}).observation
    assert obs.outcome is Outcome.AUTH_ERROR
    assert obs.detail == "env var WX_SECRET not set"
    assert fake.log == []
    assert_worded(obs)


def test_connection_failures_are_transient_and_never_show_the_secret(adapter) -> None:
    obs = check(adapter, "http://127.0.0.1:9").observation
    assert obs.outcome is Outcome.TRANSIENT
    assert SECRET not in (obs.detail or "")
    assert "secret=***" in (obs.detail or "") or "secret" not in (obs.detail or "")
    assert_worded(obs)


def test_real_40164_body_is_an_auth_error_naming_the_ip_whitelist(wechat, adapter) -> None:
    if not REAL.is_dir():
        pytest.skip("shared real fixtures not present")
    fake, base = wechat
    fake.queue(
        "/cgi-bin/token", 200, (REAL / "wechat_error_40164_ip_not_in_whitelist.json").read_bytes()
    )
    obs = check(adapter, base).observation
    assert obs.outcome is Outcome.AUTH_ERROR
    assert "IP whitelist" in (obs.detail or "")
    assert "101.45.43.1" in (obs.detail or "")
    assert_worded(obs)


def test_real_empty_freepublish_and_a_real_summary_of_reads_are_never_a_post(
    wechat, adapter
) -> None:
    if not REAL.is_dir():
        pytest.skip("shared real fixtures not present")
    fake, base = wechat
    fake.freepublish = json.loads((REAL / "wechat_freepublish_batchget_empty.json").read_text())
    # getarticlesummary would list these articles for a day they were READ on.
    summary = json.loads(
        (REAL / "wechat_datacube_getarticlesummary_wechatpy_fixture.json").read_text()
    )
    fake.queue(SUMMARY, 200, summary)
    obs = check(adapter, base, policy={"suspended_after": "1mo"}).observation
    assert obs.outcome is Outcome.OK
    assert obs.latest_post_at is None
    assert obs.silent_since == date(2026, 11, 6)
    assert SUMMARY not in fake.paths()


def test_a_day_read_before_datacube_filled_it_is_scanned_again_next_day() -> None:
    first = date(2026, 11, 1)
    state = walk(ScanState.initial(first), YESTERDAY, fetcher(set(), []), 200).state
    # 12-05's articles only show up later; the next day's check must still see them.
    run = walk(state, TODAY, fetcher({YESTERDAY}, []), 200)
    assert run.state.latest == YESTERDAY


# --- send dates: which endpoint, and what never counts as a post ---------------------


def test_an_account_refused_the_newer_endpoint_is_scanned_with_getarticletotal(
    wechat, adapter
) -> None:
    fake, base = wechat
    fake.refused[DETAIL] = {"errcode": 48001, "errmsg": "api unauthorized"}
    fake.articles["2026-12-02"] = load("total_day_with_articles.json")["list"]
    obs = check(adapter, base).observation
    assert obs.outcome is Outcome.OK, obs.detail
    assert obs.latest_post_at == datetime(2026, 12, 2, tzinfo=SH)
    assert obs.post_title == "示例县冬季供暖服务热线公布"
    assert "getarticletotal scanned" in (obs.detail or "")
    assert "getarticletotaldetail refused (errcode 48001" in (obs.detail or "")
    # One refusal is enough: the rest of the check asks the older endpoint only.
    assert fake.days(DETAIL) == ["2026-12-05"]
    assert fake.days(TOTAL) == ["2026-12-05", "2026-12-04", "2026-12-03", "2026-12-02"]
    assert_worded(obs)


def test_both_send_dated_endpoints_refused_is_an_auth_error_never_silence(wechat, adapter) -> None:
    fake, base = wechat
    fake.refused[DETAIL] = {"errcode": 48001, "errmsg": "api unauthorized"}
    fake.refused[TOTAL] = {"errcode": 47009, "errmsg": "this api is offline"}
    obs = check(adapter, base).observation
    assert obs.outcome is Outcome.AUTH_ERROR
    assert "48001" in (obs.detail or "") and "47009" in (obs.detail or "")
    assert obs.silent_since is None and obs.latest_post_at is None
    assert_worded(obs)


def test_a_delayed_empty_day_fails_the_check_rather_than_pass_for_a_quiet_day(
    wechat, adapter
) -> None:
    fake, base = wechat
    fake.articles["2026-11-30"] = [{"ref_date": "2026-11-30", "msgid": "1_1", "title": "t"}]
    fake.delayed.add("2026-12-04")
    result = check(adapter, base)
    assert result.observation.outcome is Outcome.TRANSIENT
    assert "not ready yet (is_delay)" in (result.observation.detail or "")
    # The day before it was scanned and is kept; nothing older was claimed.
    assert result.state["dc_empty_from"] == "2026-12-05"
    assert result.state["dc_latest"] is None
    assert_worded(result.observation)


def test_an_article_dated_another_day_is_a_parse_error_not_a_post(wechat, adapter) -> None:
    fake, base = wechat
    fake.articles["2026-12-05"] = [{"ref_date": "2026-11-01", "msgid": "1_1", "title": "t"}]
    obs = check(adapter, base).observation
    assert obs.outcome is Outcome.PARSE_ERROR
    assert "article dated 2026-11-01" in (obs.detail or "")
    assert_worded(obs)


def test_days_before_datacube_from_are_never_asked_and_silence_is_claimed_from_it(
    wechat, adapter
) -> None:
    fake, base = wechat
    obs = check(adapter, base, wechat={"datacube_from": "2026-11-20"}).observation
    assert obs.outcome is Outcome.OK
    assert obs.silent_since == date(2026, 11, 20)
    assert min(fake.days()) == "2026-11-20" and len(fake.days()) == 16
    assert_worded(obs)


def test_a_clock_before_datacube_from_fails_the_check_instead_of_claiming_silence(
    wechat, adapter
) -> None:
    fake, base = wechat
    obs = check(adapter, base, now=datetime(2025, 6, 1, 2, tzinfo=UTC)).observation
    assert obs.outcome is Outcome.AUTH_ERROR
    assert "wechat.datacube_from" in (obs.detail or "")
    assert fake.days() == []
    assert_worded(obs)


def test_a_kept_gap_reaching_before_datacube_from_is_narrowed_to_it() -> None:
    reach = date(2026, 11, 1)
    gap = ScanState(through=YESTERDAY, empty_from=date(2026, 11, 20), floor=date(2026, 6, 1))
    assert gap.reaching_back_to(reach).floor == reach
    inside = ScanState(through=YESTERDAY, empty_from=date(2026, 10, 20), floor=date(2026, 6, 1))
    closed = inside.reaching_back_to(reach)
    assert closed.resolved and closed.empty_from == reach
    assert gap.reaching_back_to(date(2026, 1, 1)) == gap
