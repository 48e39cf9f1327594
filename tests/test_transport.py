"""The one HTTP stack (httpx) and the connect-time outbound check on every path that leaves.

Real loopback servers throughout. "Rebinding" here is a name the guard's own lookup
sees as public (a scripted resolver) while the connection's lookup (the system's)
reaches loopback: the check at connect time must refuse it before a byte is sent,
whichever path the request takes: httpx GETs (Weibo, feeds; with credentials in the
URL too), requests (wechatpy, following a redirect) and apprise webhooks.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from adapters._http import Fetched, FetchFailure
from adapters.netguard import AddressPolicy, GuardRefusal, UrlGuard, parse_networks
from adapters.requests_guard import guarding
from adapters.transport import http_client
from monitor.checks.notify import AppriseSender, NotifyError
from monitor.settings import Settings


class Recorder:
    """A loopback HTTP server that records every request and answers with `answer`."""

    def __init__(self, status: int = 200, body: bytes = b"{}", headers: dict | None = None):
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length", 0) or 0)
                if length:
                    self.rfile.read(length)
                recorder.requests.append((self.command, self.path, dict(self.headers)))
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder(body=b'{"ok": 1}')
    yield r
    r.close()


def get(url: str, *, policy: AddressPolicy, timeout: float = 5, max_bytes: int = 10_000):
    async def go() -> Fetched | FetchFailure:
        getter = http_client(timeout_s=timeout, user_agent="t", judge=policy.peer_reason)
        try:
            return await getter.get(url, headers=None, timeout=timeout, max_bytes=max_bytes)
        finally:
            await getter.aclose()

    return asyncio.run(go())


LOOPBACK_ALLOWED = AddressPolicy(allowed_networks=parse_networks(["127.0.0.0/8"]))
DEFAULT = AddressPolicy()


# -- the getter ---------------------------------------------------------------------------------


def test_a_get_reads_the_answer_and_does_not_follow_redirects(recorder):
    ok = get(f"http://127.0.0.1:{recorder.port}/a", policy=LOOPBACK_ALLOWED)
    assert isinstance(ok, Fetched) and ok.status == 200 and ok.body == b'{"ok": 1}'
    moved = Recorder(status=302, headers={"Location": f"http://127.0.0.1:{recorder.port}/b"})
    try:
        got = get(f"http://127.0.0.1:{moved.port}/", policy=LOOPBACK_ALLOWED)
    finally:
        moved.close()
    assert isinstance(got, Fetched) and got.status == 302
    assert [p for _, p, _ in recorder.requests] == ["/a"]  # the redirect was not followed


def test_a_body_over_the_cap_is_cut_and_marked():
    big = Recorder(body=b"x" * 5000)
    try:
        got = get(f"http://127.0.0.1:{big.port}/", policy=LOOPBACK_ALLOWED, max_bytes=100)
    finally:
        big.close()
    assert isinstance(got, Fetched) and got.too_large and len(got.body) == 100


def test_the_timeout_bounds_the_whole_exchange_not_each_read():
    async def go() -> tuple[FetchFailure | Fetched, float]:
        async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            for _ in range(100):  # one byte every 0.1 s: each read is quick, the whole is not
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.1)
            writer.close()

        server = await asyncio.start_server(trickle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        getter = http_client(timeout_s=1, user_agent="t", judge=LOOPBACK_ALLOWED.peer_reason)
        loop = asyncio.get_running_loop()
        started = loop.time()
        got = await getter.get(f"http://127.0.0.1:{port}/", headers=None, timeout=0.5, max_bytes=9)
        elapsed = loop.time() - started
        await getter.aclose()
        server.close()
        return got, elapsed

    got, elapsed = asyncio.run(go())
    assert isinstance(got, FetchFailure) and got.detail.startswith("timed out after 0.5s")
    assert elapsed < 5  # far below the 10 s the trickle would take


@pytest.mark.parametrize("url", ["ftp://example.org/feed.xml", "http:///no-host", "http://[::1/"])
def test_urls_that_cannot_be_requested_are_invalid_urls(url):
    got = get(url, policy=DEFAULT, timeout=1)
    assert isinstance(got, FetchFailure) and got.invalid_url


def test_a_refused_connection_is_a_failure_not_an_exception():
    closed = Recorder()
    port = closed.port
    closed.close()
    got = get(f"http://127.0.0.1:{port}/", policy=LOOPBACK_ALLOWED, timeout=2)
    assert isinstance(got, FetchFailure) and not got.refused and "connection failed" in got.detail


# -- the connect-time check on the httpx path ------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    ["http://localhost:{port}/feed", "http://user:secret@localhost:{port}/feed"],
    ids=["plain", "credentials"],
)
def test_a_connection_reaching_loopback_is_refused_before_a_byte_is_sent(recorder, shape):
    got = get(shape.format(port=recorder.port), policy=DEFAULT)
    assert isinstance(got, FetchFailure) and got.refused
    assert "loopback" in got.detail and "rebinding" in got.detail
    assert recorder.requests == []
    # Listed in allowed_networks, the same request goes through.
    ok = get(shape.format(port=recorder.port), policy=LOOPBACK_ALLOWED)
    assert isinstance(ok, Fetched) and ok.status == 200


def test_allow_private_addresses_does_not_open_link_local_or_metadata_addresses():
    open_private = AddressPolicy(allow_private=True)
    for addr in ("169.254.169.254", "169.254.0.23", "fe80::1", "fd00:ec2::254", "100.100.100.200"):
        assert open_private.peer_reason("meta.example", 80, addr) is not None, addr
        assert open_private.peer_reason(
            "meta.example", 80, f"::ffff:{addr}" if "." in addr else addr
        )
    for addr in ("10.1.2.3", "192.168.0.9", "127.0.0.1", "fc00::5", "100.64.1.1"):
        assert open_private.peer_reason("lan.example", 80, addr) is None, addr


@pytest.mark.parametrize(
    ("networks", "address", "allowed"),
    [
        (["10.1.2.0/24"], "10.1.2.7", True),
        (["10.1.2.0/24"], "10.1.3.7", False),  # private, but not in the listed network
        (["10.1.2.0/24"], "127.0.0.1", False),
        (["127.0.0.0/8"], "127.0.0.2", True),
        (["127.0.0.0/8"], "::ffff:127.0.0.1", True),  # the mapped form of a listed address
        (["169.254.169.254/32"], "169.254.169.254", True),  # link-local only when listed
        (["10.0.0.0/8"], "169.254.169.254", False),
        (["fd12:3456::/32"], "fd12:3456::1", True),
        (["fd12:3456::/32"], "fd00:ec2::254", False),
        (["100.64.0.0/10"], "100.100.100.200", True),  # listed explicitly: the office's call
        ([], "93.184.216.34", True),  # public addresses never need a listing
    ],
)
def test_allowed_networks_allow_exactly_the_listed_non_public_addresses(networks, address, allowed):
    policy = AddressPolicy(allowed_networks=parse_networks(networks))
    assert (policy.peer_reason("host.example", 443, address) is None) is allowed


def test_allowed_networks_is_validated_and_read_from_the_environment(monkeypatch):
    with pytest.raises(ValueError, match="not a network"):
        Settings(network={"allowed_networks": ["10.1.2.0/33"]})
    monkeypatch.setenv("MONITOR_NETWORK__ALLOWED_NETWORKS", '["10.1.2.0/24", "127.0.0.0/8"]')
    settings = Settings()
    assert settings.network.allowed_networks == ["10.1.2.0/24", "127.0.0.0/8"]
    guard = UrlGuard(settings)
    assert asyncio.run(guard("http://10.1.2.9/feed")) is None
    assert "private" in (asyncio.run(guard("http://10.9.9.9/feed")) or "")


# -- requests (wechatpy) and apprise (webhooks) --------------------------------------------------


def test_requests_connections_are_judged_inside_a_guarding_block(recorder):
    import requests

    url = f"http://localhost:{recorder.port}/cgi-bin/token"
    with guarding(DEFAULT.peer_reason) as refusals, pytest.raises(GuardRefusal):
        requests.get(url, timeout=5)
    assert refusals and "loopback" in refusals[0]
    assert recorder.requests == []
    # Outside a guarding block requests behave as ever (selenium, pip, ...).
    assert requests.get(url, timeout=5).status_code == 200
    with guarding(LOOPBACK_ALLOWED.peer_reason):
        assert requests.get(url, timeout=5).status_code == 200


def test_a_wechat_api_redirect_to_an_internal_address_is_a_refused_check(recorder):
    from adapters.base import AdapterContext, CheckTarget
    from adapters.wechat import WechatApiAdapter
    from monitor.models import Outcome, Platform

    api = Recorder(status=302, headers={"Location": f"http://localhost:{recorder.port}/token"})
    settings = Settings(
        wechat={"api_base_url": f"http://127.0.0.1:{api.port}"}, http={"timeout_s": 5}
    )
    target = CheckTarget(1, Platform.WECHAT, "wx1", "政务微信", appid="wx1", secret_env="S")
    ctx = AdapterContext(
        http=None,  # type: ignore[arg-type]
        settings=settings,
        secrets={"S": "s3cret"},  # type: ignore[arg-type]
        clock=lambda: __import__("datetime").datetime.now(__import__("datetime").UTC),
        url_guard=UrlGuard(settings),
    )
    adapter = WechatApiAdapter()
    try:
        result = asyncio.run(adapter.check(target, ctx))
    finally:
        adapter.close()
        api.close()
    obs = result.observation
    assert obs.outcome is Outcome.REFUSED, obs
    assert "loopback" in (obs.detail or "")
    assert len(api.requests) == 1 and recorder.requests == []  # the token call, then nothing
    assert "s3cret" not in (obs.detail or "")


def test_an_apprise_webhook_to_a_refused_address_is_a_permanent_error(recorder):
    url = f"json://localhost:{recorder.port}/hook"
    sender = AppriseSender(timeout_s=5, judge=DEFAULT.peer_reason)
    with pytest.raises(NotifyError) as info:
        sender.send(url, "标题", "正文")
    assert info.value.permanent and "loopback" in str(info.value)
    assert recorder.requests == []
    AppriseSender(timeout_s=5, judge=LOOPBACK_ALLOWED.peer_reason).send(url, "标题", "正文")
    ((method, path, _),) = recorder.requests
    assert (method, path) == ("POST", "/hook")


def test_the_daemons_sender_carries_the_settings_guard(tmp_path):
    from monitor.daemon import Daemon
    from monitor.store import Store

    with Store.open(tmp_path / "m.db") as store:
        daemon = Daemon(store, Settings())
        assert isinstance(daemon.sender, AppriseSender)
        assert daemon.sender.judge is not None
        assert daemon.sender.judge("hook.example", 80, "127.0.0.1") is not None
        assert json.dumps("ok")
