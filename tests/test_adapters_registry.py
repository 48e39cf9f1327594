"""The registry, choose_source, and one conformance table run against every registered adapter."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

import adapters
from adapters import REGISTRY, UnknownSourceError, choose_source, get_adapter
from adapters.base import AdapterContext, CheckResult, CheckTarget
from monitor.models import Outcome, Platform
from monitor.settings import Settings

NOW = datetime(2026, 12, 6, 7, 30, tzinfo=UTC)


# --- registry -----------------------------------------------------------------------


def test_every_registered_adapter_loads_under_its_own_name() -> None:
    for name in REGISTRY:
        adapter = get_adapter(name)
        assert adapter.name == name
        assert get_adapter(name) is adapter  # one shared instance, so caches persist
    adapters.close_adapters()


def test_an_unknown_source_names_the_known_ones() -> None:
    with pytest.raises(UnknownSourceError, match=r"douyin_api.*feed, wechat_api, weibo"):
        get_adapter("douyin_api")


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
    module_name, _, class_name = REGISTRY[source].partition(":")
    cls = getattr(__import__(module_name, fromlist=[class_name]), class_name)
    adapter = cls()
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
@pytest.mark.parametrize("source", sorted(REGISTRY))
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
