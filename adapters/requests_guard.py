"""The connect-time outbound check for code that speaks HTTP through requests/urllib3.

wechatpy (WeChat) and apprise (notification webhooks) open their own connections with
requests. Inside `with guarding(judge):` every connection urllib3 opens, in this
thread or in threads that copy the context (apprise does), has its peer judged after
the TCP connect and before a byte is sent (the TLS handshake included); a refusal
raises `GuardRefusal`. `guarding(judge, source_address=IP)` also binds those
connections to that local address (a fetch worker's egress address). Outside such a
block nothing changes: selenium, pip and the
rest of the process are left alone.

urllib3 offers no hook for this, so `install()` points its two pool classes at
connection subclasses once per process; they only act when a judge is set.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from urllib3 import connection, connectionpool

from adapters.netguard import GuardRefusal

PeerJudge = Callable[[str, int, str], str | None]


@dataclass(slots=True)
class _Guard:
    judge: PeerJudge
    source_address: str | None = None
    refusals: list[str] = field(default_factory=list)


_current: contextvars.ContextVar[_Guard | None] = contextvars.ContextVar(
    "outbound_guard", default=None
)
_installed = False
_install_lock = threading.Lock()


def _judged(conn: connection.HTTPConnection, sock: socket.socket) -> socket.socket:
    guard = _current.get()
    if guard is None:
        return sock
    try:
        peer = str(sock.getpeername()[0])
    except OSError:
        peer = ""
    reason = guard.judge(conn.host, conn.port or 0, peer)
    if reason is not None:
        sock.close()
        guard.refusals.append(reason)
        raise GuardRefusal(reason)
    return sock


def _bind(conn: connection.HTTPConnection) -> None:
    guard = _current.get()
    if guard is not None and guard.source_address is not None:
        conn.source_address = (guard.source_address, 0)


class GuardedHTTPConnection(connection.HTTPConnection):
    def _new_conn(self) -> socket.socket:
        _bind(self)
        return _judged(self, super()._new_conn())


class GuardedHTTPSConnection(connection.HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        _bind(self)
        return _judged(self, super()._new_conn())


def install() -> None:
    """Make urllib3's pools open guarded connections (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        connectionpool.HTTPConnectionPool.ConnectionCls = GuardedHTTPConnection
        connectionpool.HTTPSConnectionPool.ConnectionCls = GuardedHTTPSConnection
        _installed = True


@contextlib.contextmanager
def guarding(judge: PeerJudge, source_address: str | None = None) -> Iterator[list[str]]:
    """Judge (and bind, given an address) every requests/urllib3 connection opened here; the refusals."""
    install()
    guard = _Guard(judge, source_address)
    token = _current.set(guard)
    try:
        yield guard.refusals
    finally:
        _current.reset(token)
