"""The registry, choose_source, and one conformance table run against every registered adapter."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from zh_check import assert_worded

import adapters
from adapters import (
    UnknownSourceError,
    adapter_class,
    choose_source,
    get_adapter,
    manifests,
    roster_aliases,
    source_urls,
)
from adapters.base import AdapterContext, CheckResult, CheckTarget
from monitor.models import Outcome, Platform
from monitor.settings import Settings

NOW = datetime(2026, 12, 6, 7, 30, tzinfo=UTC)


# --- registry -----------------------------------------------------------------------


def test_every_registered_adapter_loads_under_its_own_name() -> None:
    for name in manifests():
        adapter = get_adapter(name)
        assert adapter.name == name
        assert get_adapter(name) is adapter  # one shared instance, so caches persist
    adapters.close_adapters()


def test_an_unknown_source_names_the_known_ones() -> None:
    with pytest.raises(UnknownSourceError, match=r"douyin_api.*feed, wechat_api, weibo"):
        get_adapter("douyin_api")


@pytest.mark.parametrize("name", sorted(manifests()))
def test_every_manifest_is_complete_and_consistent(name: str) -> None:
    m = manifests()[name]
    assert adapter_class(name).name == m.name == name
    assert m.label and m.priority > 0
    assert m.paced_per in ("request", "check") and m.backoff_by in ("source", "host")
    assert m.max_concurrent >= 1 and m.rate_per_s > 0
    assert m.platforms and all(p == "*" or p in {x.value for x in Platform} for p in m.platforms)
    roster_fields = {"account_id", "feed_url", "appid", "secret_env"}
    assert all(set(need.split("|")) <= roster_fields for need in m.needs)
    settings = Settings()
    # The limits settings exist for it, with the manifest's defaults.
    limit = settings.limits.for_source(name)
    assert (limit.max_concurrent, limit.rate_per_s) == (m.max_concurrent, m.rate_per_s)
    # Its origins name real settings (they are paced as it and exempt from the guard).
    mine = [source for _, source in source_urls(settings) if source == name]
    assert len(mine) == len(m.origins)
    # Rosters may write its name or an alias, each meaning this source only.
    assert all(roster_aliases()[a.lower()] == name for a in (*m.aliases, name))


def test_the_roster_vocabulary_and_the_limits_come_from_the_manifests() -> None:
    assert set(roster_aliases().values()) == set(manifests())
    assert set(Settings().limits.sources()) == set(manifests())
    with pytest.raises(ValueError, match="unknown source 'douyin_api'"):
        Settings(limits={"douyin_api": {"rate_per_s": 1}})


def test_adapters_are_imported_on_first_use_only() -> None:
    code = "import sys, adapters; print('wechatpy' in sys.modules, 'feedparser' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize(
    ("platform", "source", "account_id", "feed_url", "appid", "secret_env", "expected"),
    [
        ("weibo", "", "123", "", "", "", "weibo"),
        (Platform.WEIBO, None, "123", "https://rss/x", "", "", "weibo"),
        ("weibo", "feed", "123", "https://rss/x", "", "", "feed"),  # the roster wins
        ("wechat", "", "wx1", "", "", "WX1_SECRET", "wechat_api"),  # appid = account_id
        ("wechat", "", "", "", "wx1", "WX1_SECRET", "wechat_api"),
        ("wechat", "", "", "", "", "WX1_SECRET", None),
        ("wechat", "", "wx1", "", "wx1", "", None),
        ("wechat", "", "wx1", "https://wewe/feeds/x.xml", "", "", "feed"),
        ("douyin", "", "d1", "https://rss/douyin/d1", "", "", "feed"),
        ("douyin", "", "d1", "", "", "", None),
        ("bilibili", " ", "b1", "  ", "", "", None),
    ],
)
def test_choose_source(
    platform: str,
    source: str | None,
    account_id: str,
    feed_url: str,
    appid: str,
    secret_env: str,
    expected: str | None,
) -> None:
    assert choose_source(platform, source, account_id, feed_url, appid, secret_env) == expected


# --- conformance: every adapter, every bad answer, always a failed CheckResult ------


@dataclass(frozen=True)
class Bad:
    """One bad answer, given to every request an adapter makes."""

    name: str
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    raises: str | None = None  # "timeout", "reset" or "bug"


SCENARIOS = [
    Bad("garbage bytes", body=b"\x00\xff\xfe garbage \x01"),
    Bad("empty body"),
    Bad("json list", body=b"[1, 2, 3]"),
    Bad("json null", body=b"null"),
    Bad(
        "json with wrong nesting",
        body=b'{"ok": 1, "data": {"userInfo": [], "cards": "x"}, "item": "x", "list": 5}',
    ),
    Bad("html page", body=b"<!DOCTYPE html><html><body>login</body></html>"),
    Bad("server error", status=500, body=b"internal error"),
    Bad("not found", status=404),
    Bad("rate limited", status=429, headers=(("Retry-After", "30"),)),
    Bad("timeout", raises="timeout"),
    Bad("connection reset", raises="reset"),
    Bad("bug in the transport", raises="bug"),
]


def httpx_handler(bad: Bad):
    def handler(request: httpx.Request) -> httpx.Response:
        if bad.raises == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if bad.raises == "reset":
            raise httpx.ReadError("connection reset by peer", request=request)
        if bad.raises == "bug":
            raise RuntimeError("transport bug")
        return httpx.Response(bad.status, content=bad.body, headers=dict(bad.headers))

    return handler


class RequestsStub(BaseAdapter):
    """A requests transport answering every request with one Bad scenario."""

    def __init__(self, bad: Bad):
        super().__init__()
        self.bad = bad

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if self.bad.raises == "timeout":
            raise requests.ReadTimeout("timed out", request=request)
        if self.bad.raises == "reset":
            raise requests.ConnectionError("connection reset by peer", request=request)
        if self.bad.raises == "bug":
            raise RuntimeError("transport bug")
        resp = requests.Response()
        resp.status_code = self.bad.status
        resp._content = self.bad.body
        resp.headers = CaseInsensitiveDict(dict(self.bad.headers))
        resp.request = request
        resp.url = request.url or ""
        resp.encoding = "utf-8"
        return resp

    def close(self) -> None:
        pass


def requests_session(bad: Bad) -> requests.Session:
    session = requests.Session()
    stub = RequestsStub(bad)
    session.mount("http://", stub)
    session.mount("https://", stub)
    return session


class Env:
    def get(self, name: str) -> str | None:
        return {"WX_SECRET": "conformance-secret"}.get(name)


def run_adapter(source: str, bad: Bad) -> CheckResult:
    adapter = adapter_class(source)()
    if hasattr(adapter, "http_factory"):
        adapter.http_factory = lambda: requests_session(bad)

    async def go() -> CheckResult:
        async with httpx.AsyncClient(transport=httpx.MockTransport(httpx_handler(bad))) as client:
            ctx = AdapterContext(
                http=client,
                settings=Settings(),
                secrets=Env(),
                clock=lambda: NOW,
                url_guard=lambda url: None,
            )
            target = CheckTarget(
                id=42,
                platform=Platform.WECHAT,
                account_id="1234567890",
                name="conformance",
                feed_url="https://feeds.example.org/x.xml",
                appid="wx0123456789",
                secret_env="WX_SECRET",
                state={"etag": '"e"'},
            )
            return await adapter.check(target, ctx)

    try:
        return asyncio.run(go())
    finally:
        close = getattr(adapter, "close", None)
        if callable(close):
            close()


@pytest.mark.parametrize("bad", SCENARIOS, ids=lambda b: b.name)
@pytest.mark.parametrize("source", sorted(manifests()))
def test_every_adapter_turns_every_bad_answer_into_a_failed_check(source: str, bad: Bad) -> None:
    result = run_adapter(source, bad)
    assert isinstance(result, CheckResult)
    obs = result.observation
    assert obs.source == source
    assert obs.account == 42
    assert obs.observed_at == NOW
    assert not obs.is_evidence, f"{source} read {bad.name!r} as evidence: {obs}"
    assert obs.latest_post_at is None
    assert obs.detail
    assert "conformance-secret" not in obs.detail
    json.dumps(result.state)  # state must be storable as JSON
    if bad.name == "rate limited" and obs.outcome is Outcome.RATE_LIMITED:
        assert obs.retry_after == 30.0
    if bad.raises in ("timeout", "reset") or bad.status >= 500:
        assert obs.outcome is Outcome.TRANSIENT
    assert_worded(obs)


# --- the same bad answers from a real server on loopback, read over a socket ---------

SOCKET_TIMEOUT_S = 0.5
BY_NAME = {bad.name.replace(" ", "-"): bad for bad in SCENARIOS if bad.raises != "bug"}


class BadAnswers(BaseHTTPRequestHandler):
    """Answers every request under /<scenario>/ with that Bad scenario."""

    def _answer(self) -> None:
        if self.command == "POST":
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
        bad = BY_NAME.get(self.path.lstrip("/").split("/", 1)[0])
        if bad is None or bad.raises == "reset":
            # No answer at all: the connection is dropped.
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            self.close_connection = True
            return
        if bad.raises == "timeout":
            time.sleep(SOCKET_TIMEOUT_S * 4)
            self.close_connection = True
            return
        self.send_response(bad.status)
        for name, value in bad.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(bad.body)))
        self.end_headers()
        self.wfile.write(bad.body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def bad_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BadAnswers)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_over_socket(source: str, base: str) -> CheckResult:
    settings = Settings(
        weibo={"base_url": base, "visitor_url": base},
        wechat={"api_base_url": base},
        network={"allow_private_addresses": True},
        http={"timeout_s": SOCKET_TIMEOUT_S},
    )
    adapter = adapter_class(source)()

    async def go() -> CheckResult:
        async with httpx.AsyncClient() as client:
            ctx = AdapterContext(http=client, settings=settings, secrets=Env(), clock=lambda: NOW)
            target = CheckTarget(
                id=42,
                platform=Platform.WECHAT,
                account_id="1234567890",
                name="conformance",
                feed_url=f"{base}/x.xml",
                appid="wx0123456789",
                secret_env="WX_SECRET",
            )
            return await adapter.check(target, ctx)

    try:
        return asyncio.run(go())
    finally:
        close = getattr(adapter, "close", None)
        if callable(close):
            close()


@pytest.mark.parametrize("scenario", sorted(BY_NAME))
@pytest.mark.parametrize("source", sorted(manifests()))
def test_every_bad_answer_over_a_socket_is_a_failed_check_with_a_detail_worded_in_chinese(
    source: str, scenario: str, bad_server: str
) -> None:
    obs = run_over_socket(source, f"{bad_server}/{scenario}").observation
    assert obs.source == source and not obs.is_evidence, obs
    bad = BY_NAME[scenario]
    if bad.raises in ("timeout", "reset") or bad.status >= 500:
        assert obs.outcome is Outcome.TRANSIENT, obs.detail
    assert "conformance-secret" not in json.dumps(obs.detail_params, ensure_ascii=False)
    assert_worded(obs)
