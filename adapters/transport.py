"""The one HTTP stack of the polling adapters: httpx, with the outbound check at connect time.

    client = http_client(settings, policy)            # production
    client = http_client(settings, policy, transport=httpx.MockTransport(...))  # tests

Both hand adapters the same `HttpxGetter`; only the transport differs, so unit
tests exercise the code production runs. Every TCP connection httpcore opens,
direct or to a proxy (`*_PROXY` from the environment), goes through
`GuardedBackend`, which judges the address reached before a byte is written.

Through a proxy the peer is the proxy and the proxy resolves the target name:
the target is judged by `UrlGuard` before the request, the proxy at connect time.
"""

from __future__ import annotations

import typing
from collections.abc import Callable

import httpcore
import httpx

from adapters._http import HttpxGetter
from adapters.netguard import GuardRefusal
from monitor.messages import message
from monitor.models import MessageCode

PeerJudge = Callable[[str, int, str], str | None]

LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=100)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that refuses connections whose peer the outbound policy refuses."""

    def __init__(self, judge: PeerJudge, inner: httpcore.AsyncNetworkBackend | None = None):
        self._judge = judge
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        peer = stream.get_extra_info("server_addr")
        reason = self._judge(host, port, str(peer[0]) if peer else "")
        if reason is not None:
            await stream.aclose()
            raise GuardRefusal(reason)
        return stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise GuardRefusal(message(MessageCode.GUARD_UNIX_SOCKET, path=path))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _guard_pool(transport: httpx.AsyncBaseTransport | None, judge: PeerJudge) -> None:
    # httpx builds its httpcore pool (and one per proxy mount) without a way to pass a
    # network backend; the pool keeps it in `_network_backend` and hands it to every
    # connection it opens. tests/test_transport.py fails if that stops holding.
    pool = getattr(transport, "_pool", None)
    if pool is None or not hasattr(pool, "_network_backend"):
        raise RuntimeError(f"cannot guard {type(transport).__name__}: no httpcore pool")
    pool._network_backend = GuardedBackend(judge, pool._network_backend)


def http_client(
    *,
    timeout_s: float,
    user_agent: str,
    judge: PeerJudge,
    transport: httpx.AsyncBaseTransport | None = None,
    local_address: str | None = None,
) -> HttpxGetter:
    """The getter adapters use: guarded httpx, or httpx over an injected transport (tests)."""
    if transport is None:
        transport = httpx.AsyncHTTPTransport(limits=LIMITS, local_address=local_address)
        _guard_pool(transport, judge)
        guard_mounts = True
    else:
        guard_mounts = False
    client = httpx.AsyncClient(
        transport=transport,
        timeout=timeout_s,
        headers={"User-Agent": user_agent},
        follow_redirects=False,
    )
    if guard_mounts:
        # Proxy transports httpx made from the environment (*_PROXY).
        for mounted in client._mounts.values():
            if mounted is not None and mounted is not transport:
                _guard_pool(mounted, judge)
    return HttpxGetter(client)
