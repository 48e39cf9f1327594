"""The outbound guard for roster-supplied URLs."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from adapters.netguard import UrlGuard, forbidden_reason
from monitor.messages import Message, render
from monitor.settings import Settings


@pytest.mark.parametrize(
    ("address", "label"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata endpoint
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("fc00::1", "private"),
        ("100.64.0.1", "non-global"),  # carrier-grade NAT
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
    ],
)
def test_forbidden_addresses_are_named(address: str, label: str) -> None:
    reason = forbidden_reason(ipaddress.ip_address(address))
    assert reason is not None
    assert label in reason


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "114.114.114.114", "2400:3200::1", "::ffff:1.2.3.4"]
)
def test_public_addresses_pass(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is None


def resolver(table: dict[str, list[str]]):
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        if host not in table:
            raise OSError("name not known")
        return table[host]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def check(url: str, table: dict[str, list[str]] | None = None, **settings: object) -> str | None:
    guard = UrlGuard(Settings(**settings), resolver=resolver(table or {}))
    return asyncio.run(guard(url))


def test_a_name_is_refused_if_any_resolved_address_is_private() -> None:
    table = {"rss.example.org": ["93.184.216.34", "10.0.0.7"]}
    reason = check("https://rss.example.org/feed", table)
    assert reason is not None
    assert "10.0.0.7" in reason


def test_a_public_name_passes() -> None:
    assert check("https://rss.example.org/feed", {"rss.example.org": ["93.184.216.34"]}) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1200/weibo",
        "http://[::1]/feed",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:192.168.0.1]/",
        "http://0.0.0.0:8080/",
    ],
)
def test_literal_private_addresses_are_refused_without_resolving(url: str) -> None:
    assert check(url) is not None


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://x/", "not a url", "http:///path"])
def test_non_http_urls_are_refused(url: str) -> None:
    assert check(url) is not None


def test_configured_platform_origins_are_exempt() -> None:
    settings = {
        "weibo": {"base_url": "http://127.0.0.1:8765"},
        "wechat": {"api_base_url": "http://localhost:8766/"},
    }
    assert check("http://127.0.0.1:8765/api/container/getIndex", **settings) is None
    assert (
        check("http://localhost:8766/cgi-bin/token", {"localhost": ["127.0.0.1"]}, **settings)
        is None
    )
    # Same host, other port: not the configured origin.
    assert check("http://127.0.0.1:8000/feed", **settings) is not None


def test_allow_private_addresses_lifts_the_rule() -> None:
    assert check("http://10.0.0.5/feed", network={"allow_private_addresses": True}) is None


def test_an_unresolvable_name_is_left_to_the_fetch() -> None:
    assert check("https://nowhere.invalid/feed", {}) is None


def test_the_system_resolver_refuses_localhost() -> None:
    reason = asyncio.run(UrlGuard(Settings())("http://localhost:9/feed"))
    assert reason is not None
    assert "loopback" in reason


def test_peer_reason_judges_the_address_a_connection_reached() -> None:
    settings = {"weibo": {"base_url": "http://127.0.0.1:8765"}}
    guard = UrlGuard(Settings(**settings))
    reason = guard.peer_reason("rss.example.org", 443, "10.0.0.7")
    assert reason is not None and "10.0.0.7" in reason and "private" in reason
    assert "rebinding" in reason
    assert guard.peer_reason("rss.example.org", 443, "93.184.216.34") is None
    assert guard.peer_reason("rss.example.org", 443, "::ffff:127.0.0.1") is not None
    # The configured platform origin is exempt, as in the guard's own check.
    assert guard.peer_reason("127.0.0.1", 8765, "127.0.0.1") is None
    allowing = UrlGuard(Settings(network={"allow_private_addresses": True}))
    assert allowing.peer_reason("intranet", 80, "10.0.0.7") is None


@pytest.mark.parametrize(
    ("url", "table", "zh"),
    [
        ("http://10.1.2.3/feed", {}, "已拒绝 10.1.2.3：内网（私有）地址"),
        ("http://[::ffff:127.0.0.1]/", {}, "已拒绝 ::ffff:127.0.0.1：本机回环地址（内嵌于 ::ffff:7f00:1）"),
        ("http://169.254.169.254/", {}, "已拒绝 169.254.169.254：链路本地地址（云元数据服务所在网段）"),
        ("http://100.100.100.200/", {}, "已拒绝 100.100.100.200：云元数据服务地址"),
        ("https://rss.example.org/x", {"rss.example.org": ["10.0.0.7"]},
         "已拒绝 rss.example.org：解析到 10.0.0.7，内网（私有）地址"),
        ("ftp://x.org:21/a", {}, "已拒绝 'ftp://x.org:21/a'：协议 'ftp' 不是 http 或 https"),
        ("not a url", {}, "已拒绝 'not a url'：不是完整的 http(s) 地址"),
    ],
)  # fmt: skip
def test_every_refusal_is_a_message_worded_in_chinese(url: str, table: dict, zh: str) -> None:
    reason = check(url, table)
    assert isinstance(reason, Message)
    assert render(reason.code, reason.params, "zh") == zh
    assert render(reason.code, reason.params, "en") == reason  # the English text as before


def test_a_rebinding_refusal_at_connect_time_is_worded_in_chinese() -> None:
    reason = UrlGuard(Settings()).peer_reason("rss.example.org", 443, "10.0.0.7")
    assert isinstance(reason, Message)
    assert render(reason.code, reason.params, "zh") == (
        "已拒绝 rss.example.org：实际连接到 10.0.0.7，内网（私有）地址"
        "（检查时该域名解析到另一个地址，可能是 DNS 重绑定）"
    )
