"""Reliability: roster-supplied URLs never reach loopback, private or link-local addresses.

What tests/test_netguard.py (the guard alone) and tests/test_adapters_feed.py (a fake
guard) do not cover: the real `UrlGuard` with a resolver that maps public-looking
DNS names to internal addresses, through the `FeedAdapter`, including redirects
from a public-looking first hop to 127.0.0.1; numeric host spellings the system
resolver turns into 127.0.0.1; a name whose answer changes between the guard's
lookup and the connection's (DNS rebinding); and end to end through `monitor check`
against the simulator, which must see zero feed requests.

Reproduce: /work/venv/bin/python -m pytest tests/test_reliability_outbound.py -q
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta

import httpx
import pytest

import adapters.netguard as netguard
from adapters.base import AdapterContext, CheckTarget
from adapters.feed import FeedAdapter
from adapters.netguard import UrlGuard
from monitor.checks.fetch import Checker
from monitor.cli import main
from monitor.models import Observation, Outcome, Platform
from monitor.settings import Settings
from monitor.simulator import SimAccount, SimulatorServer
from monitor.simulator.scenario import Scenario
from monitor.store import Store

NOW = datetime(2024, 12, 6, 7, 30, tzinfo=UTC)
RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<item><title>a</title><link>https://x/1</link>"
    b"<pubDate>Thu, 05 Dec 2024 09:00:00 +0800</pubDate></item></channel></rss>"
)
PUBLIC = "93.184.216.34"
INTERNAL = {
    "127.0.0.1": "loopback",
    "10.0.0.5": "private",
    "169.254.169.254": "link-local",
    "::1": "loopback",
    "::ffff:127.0.0.1": "loopback",
    "fd00::5": "private",
    "100.64.1.1": "non-global",
}


def table_resolver(table: dict[str, list[str]]):
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        if host not in table:
            raise OSError("name not known")
        return table[host]

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


class _NoSecrets:
    def get(self, name: str) -> str | None:
        return None


def check_feed(url: str, handler, resolver=None, **settings) -> Observation:
    """The feed adapter with the REAL UrlGuard (and a scripted resolver) over MockTransport."""

    async def go() -> Observation:
        s = Settings(**settings)
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            ctx = AdapterContext(
                http=client,
                settings=s,
                secrets=_NoSecrets(),
                clock=lambda: NOW,
                url_guard=UrlGuard(s, resolver=resolver),
            )
            target = CheckTarget(
                id=1, platform=Platform.DOUYIN, account_id="", name="x", feed_url=url
            )
            return (await FeedAdapter().check(target, ctx)).observation

    return asyncio.run(go())


def recording(routes: dict[str, httpx.Response] | None = None):
    """A handler that records every request; by default it serves the feed."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        for prefix, resp in (routes or {}).items():
            if str(request.url).startswith(prefix):
                return resp
        return httpx.Response(200, content=RSS, headers={"Content-Type": "application/rss+xml"})

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


# --- DNS names that resolve inside --------------------------------------------------------


@pytest.mark.parametrize(("address", "label"), INTERNAL.items(), ids=INTERNAL.keys())
def test_a_public_looking_name_resolving_inside_is_blocked_before_any_request(address, label):
    handler = recording()
    resolver = table_resolver({"evil.example": [address]})
    obs = check_feed("https://evil.example/douyin/user/x", handler, resolver)
    assert obs.outcome is Outcome.REFUSED
    assert "evil.example" in obs.detail and label in obs.detail, obs.detail
    assert handler.seen == []  # type: ignore[attr-defined]
    assert obs.latest_post_at is None


def test_one_internal_address_among_public_ones_is_enough_to_refuse():
    handler = recording()
    resolver = table_resolver({"evil.example": [PUBLIC, "2400:3200::1", "169.254.169.254"]})
    obs = check_feed("https://evil.example/feed", handler, resolver)
    assert obs.outcome is Outcome.REFUSED and "169.254.169.254" in obs.detail
    assert handler.seen == []  # type: ignore[attr-defined]


def test_a_resolver_answer_that_is_not_an_address_is_refused():
    handler = recording()
    obs = check_feed("https://evil.example/feed", handler, table_resolver({"evil.example": ["x"]}))
    assert obs.outcome is Outcome.REFUSED and "unreadable address" in obs.detail
    assert handler.seen == []  # type: ignore[attr-defined]


def test_the_same_name_passes_when_it_resolves_public_and_when_private_is_allowed():
    resolver = table_resolver({"rss.example": [PUBLIC], "lan.example": ["10.0.0.5"]})
    assert check_feed("https://rss.example/f", recording(), resolver).outcome is Outcome.OK
    allowed = check_feed(
        "http://lan.example/f", recording(), resolver, network={"allow_private_addresses": True}
    )
    assert allowed.outcome is Outcome.OK


# --- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "label"),
    [
        ("http://127.0.0.1/feed", "loopback"),
        ("http://127.0.0.1:8080/admin", "loopback"),
        ("http://[::1]:9000/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://inside.example/feed", "private"),  # a name that resolves to 10.0.0.5
        ("//inside.example/feed", "private"),  # scheme-relative
    ],
)
def test_a_redirect_from_a_public_first_hop_to_an_internal_address_is_blocked(location, label):
    handler = recording(
        {"https://rss.example/": httpx.Response(302, headers={"Location": location})}
    )
    resolver = table_resolver({"rss.example": [PUBLIC], "inside.example": ["10.0.0.5"]})
    obs = check_feed("https://rss.example/douyin/user/x", handler, resolver)
    assert obs.outcome is Outcome.REFUSED, obs
    assert "redirect hop 1" in obs.detail and label in obs.detail, obs.detail
    # Only the public first hop was requested; the internal target never was.
    assert handler.seen == ["https://rss.example/douyin/user/x"]  # type: ignore[attr-defined]


def test_a_redirect_chain_is_checked_at_every_hop():
    handler = recording(
        {
            "https://a.example/": httpx.Response(301, headers={"Location": "https://b.example/x"}),
            "https://b.example/y": httpx.Response(
                302, headers={"Location": "http://metadata.example/"}
            ),
            "https://b.example/x": httpx.Response(307, headers={"Location": "/y"}),
        }
    )
    resolver = table_resolver(
        {"a.example": [PUBLIC], "b.example": [PUBLIC], "metadata.example": ["169.254.169.254"]}
    )
    obs = check_feed("https://a.example/feed", handler, resolver)
    assert obs.outcome is Outcome.REFUSED
    assert "redirect hop 3" in obs.detail and "link-local" in obs.detail
    assert not any("metadata" in u for u in handler.seen)  # type: ignore[attr-defined]


def test_a_redirect_to_a_non_http_scheme_is_refused():
    handler = recording(
        {"https://rss.example/": httpx.Response(302, headers={"Location": "file:///etc/passwd"})}
    )
    obs = check_feed("https://rss.example/f", handler, table_resolver({"rss.example": [PUBLIC]}))
    assert obs.outcome is Outcome.REFUSED and "http(s)" in obs.detail


# --- numeric spellings of 127.0.0.1 (the system resolver; no network involved) -----------------


@pytest.mark.parametrize(
    "url",
    ["http://2130706433/feed", "http://0x7f000001/feed", "http://127.1/feed", "http://0177.0.0.1/"],
)
def test_numeric_spellings_of_loopback_are_refused_by_the_default_guard(url):
    handler = recording()
    obs = check_feed(url, handler)  # resolver=None: the system resolver
    assert obs.outcome is Outcome.REFUSED, obs
    assert "loopback" in obs.detail
    assert handler.seen == []  # type: ignore[attr-defined]


# --- end to end: the CLI against the simulator ----------------------------------------------------


@pytest.fixture
def feed_sim(tmp_path, monkeypatch):
    scenario = Scenario(
        accounts=[
            SimAccount(
                platform="feed",
                account_id="x",
                name="内网抖音",
                unit="市统计局",
                region="市直部门",
                posts=[datetime.now(UTC) - timedelta(days=1)],
                platform_label="douyin",
            )
        ]
    )
    server = SimulatorServer(scenario)
    url = server.start()
    for key in list(os.environ):
        if key.startswith("MONITOR_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("MONITOR_DB", str(tmp_path / "m.db"))
    monkeypatch.setenv("MONITOR_HTTP__TIMEOUT_S", "5")
    try:
        yield server, url, tmp_path
    finally:
        server.stop()


def _import(tmp_path, capsys, feed_url: str) -> None:
    roster = tmp_path / "r.csv"
    roster.write_text(
        f"类别,主办单位,平台,账号名称,来源,订阅地址\n市直部门,市统计局,抖音,内网抖音,feed,{feed_url}\n",
        encoding="utf-8",
    )
    assert main(["import", str(roster)]) == 0
    capsys.readouterr()


def _check(capsys) -> dict:
    code = main(["check", "--all", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    (record,) = json.loads(out)
    return record


def test_monitor_check_refuses_a_loopback_feed_url_and_the_simulator_sees_nothing(feed_sim, capsys):
    server, url, tmp_path = feed_sim
    _import(tmp_path, capsys, f"{url}/feed/x.xml")
    record = _check(capsys)
    assert record["outcome"] == "refused"
    assert "127.0.0.1" in record["detail"] and "loopback" in record["detail"]
    assert record["state"] == "unknown"
    stats = server.stats
    assert stats["by_path"].get("/feed/*", 0) == 0 and stats["requests"] == 0
    # The refusal is recorded like any failed check, with its reason.
    with Store.open(tmp_path / "m.db") as store:
        (obs,) = store.observations(1)
    assert obs.outcome is Outcome.REFUSED and "loopback" in (obs.detail or "")
    # Explicitly allowed, the same URL is fetched and is evidence.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MONITOR_NETWORK__ALLOW_PRIVATE_ADDRESSES", "true")
        allowed = _check(capsys)
    assert allowed["outcome"] == "ok" and allowed["state"] == "active"
    assert server.stats["by_path"].get("/feed/*", 0) == 1


def test_monitor_check_refuses_a_dns_name_that_resolves_to_loopback(feed_sim, capsys, monkeypatch):
    server, url, tmp_path = feed_sim
    port = url.rsplit(":", 1)[1]
    resolver = table_resolver({"feeds.evil.example": ["127.0.0.1"]})
    # The CLI builds its guard with the module's default resolver: script that one.
    monkeypatch.setattr(netguard, "system_resolver", resolver)
    _import(tmp_path, capsys, f"http://feeds.evil.example:{port}/feed/x.xml")
    record = _check(capsys)
    assert record["outcome"] == "refused"
    assert "feeds.evil.example" in record["detail"] and "127.0.0.1" in record["detail"]
    assert resolver.asked == ["feeds.evil.example"]  # type: ignore[attr-defined]
    assert server.stats["requests"] == 0


def test_monitor_check_refuses_a_name_that_rebinds_to_loopback_at_connect_time(
    feed_sim, capsys, monkeypatch
):
    server, url, tmp_path = feed_sim
    port = url.rsplit(":", 1)[1]
    # DNS rebinding: the guard's lookup gets a public address, the connection's own
    # lookup (the system's) gets loopback.
    resolver = table_resolver({"localhost": [PUBLIC]})
    monkeypatch.setattr(netguard, "system_resolver", resolver)
    _import(tmp_path, capsys, f"http://localhost:{port}/feed/x.xml")
    record = _check(capsys)
    assert resolver.asked == ["localhost"]  # type: ignore[attr-defined]
    assert record["outcome"] == "refused", record["detail"]
    assert "loopback" in record["detail"] and "rebinding" in record["detail"]
    assert record["state"] == "unknown"
    assert server.stats["requests"] == 0  # refused before a request was written


class _PublicFirstHop(httpx.AsyncBaseTransport):
    """rss.example answers with a redirect; every other host goes over the real network stack."""

    def __init__(self, location: str):
        self.location = location
        self.real = httpx.AsyncHTTPTransport()
        self.first_hops = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "rss.example":
            self.first_hops += 1
            return httpx.Response(302, headers={"Location": self.location})
        return await self.real.handle_async_request(request)

    async def aclose(self) -> None:
        await self.real.aclose()


@pytest.mark.parametrize("allow", [False, True], ids=["default", "allow_private"])
def test_a_checker_sweep_refuses_a_redirect_into_the_simulator(feed_sim, monkeypatch, allow):
    server, url, tmp_path = feed_sim
    monkeypatch.setattr(netguard, "system_resolver", table_resolver({"rss.example": [PUBLIC]}))
    settings = Settings(network={"allow_private_addresses": allow}, http={"timeout_s": 5})
    db = tmp_path / "checker.db"
    roster = tmp_path / "r.csv"
    roster.write_text(
        "类别,主办单位,平台,账号名称,来源,订阅地址\n"
        "市直部门,市统计局,抖音,内网抖音,feed,https://rss.example/douyin/x\n",
        encoding="utf-8",
    )
    assert main(["--db", str(db), "import", str(roster)]) == 0
    transport = _PublicFirstHop(f"{url}/feed/x.xml")

    async def sweep():
        with Store.open(db) as store:
            views = store.accounts_at(NOW.replace(year=2100))
            async with Checker(store, settings, transport=transport) as checker:
                return await checker.check_many(views)

    (report,) = asyncio.run(sweep())
    assert transport.first_hops == 1
    if allow:
        assert report.observation.outcome is Outcome.OK
        assert server.stats["by_path"].get("/feed/*", 0) == 1
    else:
        assert report.observation.outcome is Outcome.REFUSED
        assert "redirect hop 1" in report.observation.detail
        assert "loopback" in report.observation.detail
        assert server.stats["requests"] == 0
