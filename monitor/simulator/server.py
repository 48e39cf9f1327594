"""SimulatorServer: Weibo, WeChat and feed protocols on one loopback HTTP server.

Runs in a background thread (`start()`/`stop()`, or as a context manager) for
tests, or in the foreground (`run()` / `await serve_forever()`) for the CLI.
Global knobs apply in this order: rate limits (per protocol, then per protocol and
client address: `rate_limit_per_client_s`), random errors
(`error_rate`, seeded), then the account's fault; `latency_ms` delays every answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from monitor.simulator import feeds, sites, wechat, weibo, weibo_visitor
from monitor.simulator.common import html_500, stable_int
from monitor.simulator.http import HttpServer, Request, Response
from monitor.simulator.ready import env_lines, write_ready_file
from monitor.simulator.scenario import FAULTS, Scenario
from monitor.simulator.world import AccountState, Clock, World, system_clock

__all__ = ["SimulatorServer", "StatsSnapshot", "env_lines", "route", "write_ready_file"]

log = logging.getLogger(__name__)

WEIBO_PATH = "/api/container/getIndex"
PROTOCOLS = ("weibo", "wechat", "feed")
SITE_PATHS = "/site/*"


def route(path: str) -> tuple[str, str]:
    """(protocol, stats key) of a request path; unknown paths are ("other", "other")."""
    if path == WEIBO_PATH:
        return "weibo", path
    if path.startswith(weibo_visitor.PREFIX):
        return "weibo", "/visitor/*"
    if path in wechat.PATHS:
        return "wechat", path
    if path.startswith("/feed/"):
        return "feed", "/feed/*"
    if path.startswith(sites.PREFIX):
        return "site", SITE_PATHS
    if path == "/robots.txt":
        return "site", "/robots.txt"
    return "other", "other"


class StatsSnapshot(dict[str, Any]):
    """A copy of the counters; also callable, so `server.stats` and `server.stats()` both work."""

    def __call__(self) -> StatsSnapshot:
        return self


class _Bucket:
    """Token bucket: `rate` requests/s sustained, bursts up to `rate` (at least 1)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.last = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def _rate_limited(protocol: str, world: World) -> Response:
    # Each platform's own way of saying "too fast", as the per-account fault says it.
    if protocol == "weibo":
        return Response(418, b"", "text/html; charset=utf-8")
    if protocol == "wechat":
        return wechat._error(world, 45009, "reach max api daily quota limit")
    if protocol == "site":
        return Response(503, b"Service Temporarily Unavailable", "text/html; charset=utf-8")
    return Response(429, b"Too Many Requests", "text/plain; charset=utf-8", [("Retry-After", "1")])


class SimulatorServer:
    """A loopback HTTP server that answers like m.weibo.cn, api.weixin.qq.com and RSSHub."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        seed: int = 0,
        hold_seconds: float = 120.0,
    ) -> None:
        self.scenario = scenario
        self.host = host
        self.port = port
        self.seed = seed
        self.hold_seconds = hold_seconds
        self.world = World(scenario, clock or system_clock, seed)
        self.latency_ms = scenario.latency_ms
        self.error_rate = scenario.error_rate
        self._rate: float | None = scenario.rate_limit_per_s
        self._buckets: dict[str, _Bucket] = {}
        self._per_client: float | None = scenario.rate_limit_per_client_s
        self._client_buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()
        self._draws: Counter[tuple[str, str]] = Counter()
        self._reset_counters()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._http: HttpServer | None = None

    # ----- knobs -------------------------------------------------------------------

    def set_rate_limit(self, per_s: float | None) -> None:
        """Change rate_limit_per_s live (None = unlimited); buckets start full."""
        if per_s is not None and per_s <= 0:
            raise ValueError("rate limit must be positive or None")
        with self._lock:
            self._rate = per_s
            self._buckets = {}

    @property
    def rate_limit_per_s(self) -> float | None:
        return self._rate

    def set_rate_limit_per_client(self, per_s: float | None) -> None:
        """Change the per-client-address limit live (None = none); buckets start full."""
        if per_s is not None and per_s <= 0:
            raise ValueError("rate limit must be positive or None")
        with self._lock:
            self._per_client = per_s
            self._client_buckets = {}

    @property
    def rate_limit_per_client_s(self) -> float | None:
        return self._per_client

    def set_latency(self, latency_ms: float) -> None:
        """Change the delay added to every answer."""
        self.latency_ms = max(0.0, float(latency_ms))

    def set_error_rate(self, rate: float) -> None:
        """Change the fraction of requests answered 500 at random."""
        if not 0 <= rate <= 1:
            raise ValueError("error_rate must be within 0..1")
        self.error_rate = rate

    def set_clock(self, clock: Clock) -> None:
        """Replace the clock (aware datetimes); posts after it are not served."""
        self.world.clock = clock

    def set_fault(self, account_id: str, fault: str | None, platform: str | None = None) -> None:
        """Set or clear (None) an account's fault while serving."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; use one of {', '.join(FAULTS)}")
        self._find(account_id, platform).fault = fault

    def expire_visitor_cookies(self) -> None:
        """Make every visitor cookie handed out so far stale: the wall comes back for them."""
        self.world.visitor_subs.clear()

    def add_post(self, account_id: str, when: datetime, platform: str | None = None) -> None:
        """Add a post to an account while serving."""
        if when.tzinfo is None:
            raise ValueError("post time must be aware")
        self._find(account_id, platform).add_post(when)

    def _find(self, account_id: str, platform: str | None) -> AccountState:
        platforms = [platform] if platform else list(PROTOCOLS)
        found = [s for p in platforms if (s := self.world.get(p, account_id)) is not None]
        if not found:
            raise KeyError(f"no account {account_id!r} in the scenario")
        if len(found) > 1:
            raise ValueError(f"account id {account_id!r} exists on several platforms; name one")
        return found[0]

    # ----- stats -------------------------------------------------------------------

    def _reset_counters(self) -> None:
        self._requests = 0
        self._over_limit = 0
        self._over_by_protocol: Counter[str] = Counter()
        self._by_path: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()
        self._by_protocol: Counter[str] = Counter()
        self._by_client: Counter[str] = Counter()
        self._over_by_client: Counter[str] = Counter()
        self._injected = 0
        self._held = 0
        self._internal = 0

    def reset_stats(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._reset_counters()

    @property
    def stats(self) -> StatsSnapshot:
        """Counters: requests, over_limit, by_path, by_status (int keys), and more."""
        with self._lock:
            return StatsSnapshot(
                requests=self._requests,
                over_limit=self._over_limit,
                over_limit_by_protocol=dict(self._over_by_protocol),
                by_path=dict(self._by_path),
                by_status=dict(self._by_status),
                by_protocol=dict(self._by_protocol),
                by_client=dict(self._by_client),
                over_limit_by_client=dict(self._over_by_client),
                injected_errors=self._injected,
                held=self._held,
                internal_errors=self._internal,
                connections=self._http.connections_opened if self._http else 0,
            )

    # ----- request handling --------------------------------------------------------

    def _limited(self, protocol: str, client: str) -> bool:
        with self._lock:
            if self._rate is not None:
                bucket = self._buckets.get(protocol)
                if bucket is None:
                    bucket = self._buckets[protocol] = _Bucket(self._rate)
                if not bucket.take():
                    return self._count_over(protocol, client)
            if self._per_client is not None:
                key = (protocol, client)
                bucket = self._client_buckets.get(key)
                if bucket is None:
                    bucket = self._client_buckets[key] = _Bucket(self._per_client)
                if not bucket.take():
                    return self._count_over(protocol, client)
            return False

    def _count_over(self, protocol: str, client: str) -> bool:
        self._over_limit += 1
        self._over_by_protocol[protocol] += 1
        self._over_by_client[client] += 1
        return True

    def _inject_error(self, req: Request) -> bool:
        rate = self.error_rate
        if rate <= 0:
            return False
        # Keyed by the request and its repetition count, so the same sequence of
        # requests gets the same errors whatever the interleaving of connections.
        key = (req.method, req.target)
        with self._lock:
            self._draws[key] += 1
            n = self._draws[key]
        return stable_int(self.seed, req.method, req.target, n) / 2**64 < rate

    def _dispatch(self, protocol: str, req: Request) -> Response:
        if protocol == "weibo":
            if req.path.startswith(weibo_visitor.PREFIX):
                return weibo_visitor.handle(self.world, req)
            return weibo.handle(self.world, req)
        if protocol == "wechat":
            return wechat.handle(self.world, req)
        if protocol == "feed":
            return feeds.handle(self.world, req)
        if protocol == "site":
            return sites.handle(self.world, req)
        return Response(404, b"not found", "text/plain; charset=utf-8")

    async def _handle(self, req: Request) -> Response:
        protocol, key = route(req.path)
        with self._lock:
            self._requests += 1
            self._by_path[key] += 1
            self._by_protocol[protocol] += 1
            self._by_client[req.peer] += 1
        if protocol != "other" and self._limited(protocol, req.peer):
            resp = _rate_limited(protocol, self.world)
        elif protocol != "other" and self._inject_error(req):
            with self._lock:
                self._injected += 1
            resp = html_500()
        else:
            try:
                resp = self._dispatch(protocol, req)
            except Exception:
                log.exception("simulator failed on %s %s", req.method, req.target)
                with self._lock:
                    self._internal += 1
                resp = Response(500, b"simulator internal error", "text/plain; charset=utf-8")
        if resp.hold:
            with self._lock:
                self._held += 1
            return resp
        if self.latency_ms > 0:
            await asyncio.sleep(self.latency_ms / 1000)
        with self._lock:
            self._by_status[resp.status] += 1
        return resp

    # ----- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, e.g. "http://127.0.0.1:8765" (valid once started)."""
        host = self.host
        if host in ("0.0.0.0", "", "::"):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    async def serve_forever(
        self,
        ready_callback: Callable[[str], Any] | None = None,
        *,
        handle_signals: bool = False,
    ) -> None:
        """Serve until `stop()`; `ready_callback(url)` runs once the port is bound."""
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        if handle_signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                self._loop.add_signal_handler(signal.SIGTERM, self._stop_event.set)
        http = self._http = HttpServer(self._handle, hold_seconds=self.hold_seconds)
        try:
            self.port = await http.start(self.host, self.port)
            self._ready.set()
            if ready_callback is not None:
                ready_callback(self.url)
            await self._stop_event.wait()
        finally:
            await http.close()
            self._loop = None

    def run(self, ready_callback: Callable[[str], Any] | None = None) -> None:
        """Serve in the foreground until stop(), SIGTERM or Ctrl-C."""
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(self.serve_forever(ready_callback, handle_signals=True))

    def _thread_main(self) -> None:
        try:
            asyncio.run(self.serve_forever())
        except BaseException as exc:  # surfaced to start()'s caller
            self._error = exc
            self._ready.set()

    def start(self) -> str:
        """Serve in a background thread with its own event loop; returns the base URL."""
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._thread_main, name="simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            self._thread.join(1)
            self._thread = None
            raise RuntimeError(f"simulator failed to start: {self._error!r}")
        return self.url

    def stop(self) -> None:
        """Stop serving; held (timeout-fault) connections are closed at once."""
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(event.set)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(10)
            self._thread = None

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
