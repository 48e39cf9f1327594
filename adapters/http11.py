"""A lean HTTP/1.1 GET client for the polling adapters: keep-alive per origin, TLS, chunked, gzip.

A sweep makes two requests per Weibo account; through httpx's client, httpcore and
anyio layers each costs about 2 ms of CPU, which is most of a check. This client does
only what the adapters ask for: one GET, no redirects, no cookies of its own (a
`Cookie` header is passed explicitly), a byte cap on the decoded body. Whatever it
does not do goes to the `fallback` (an httpx-based getter): URLs with credentials in
them, and every URL when a proxy is configured in the environment, so proxies and
their exceptions keep working exactly as httpx reads them.

Errors become `FetchFailure` values worded like the httpx path's, so adapters and
their tests cannot tell the two apart.

`peer_check` (the outbound guard's `peer_reason`) judges the address each new
connection actually reached, before a request is written on it: a name that
resolved to a public address when the guard looked and to a private one at connect
time (DNS rebinding) is refused there.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import ssl
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from adapters._http import Fetched, FetchFailure, HttpGetter

# Header blocks larger than this are not an answer an adapter wants.
MAX_HEAD_BYTES = 64 * 1024
MAX_IDLE_PER_ORIGIN = 16
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")
# Characters kept as they are in a request target; anything else (spaces, non-ASCII) is
# percent-encoded, as httpx does.
_TARGET_SAFE = "!#$%&'()*+,-./:;=?@[]_~"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLAIN_TARGET = re.compile(r"[A-Za-z0-9!#$%&'()*+,\-./:;=?@\[\]_~]*")


class _ProtocolError(Exception):
    """The peer's bytes are not an HTTP/1.1 response we can read."""


class _RefusedPeer(Exception):
    """The connection reached an address the outbound guard refuses."""


PeerCheck = Callable[[str, str, int, str], str | None]


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def usable(self) -> bool:
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int
    host_header: str
    credentials: bool  # user:password@ in the URL (left to the fallback)


def proxy_configured(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """True when an HTTP(S)/ALL proxy variable is set (httpx would route through it)."""
    return any(environ.get(name) or environ.get(name.upper()) for name in PROXY_VARIABLES)


_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)([^#]*)")


def _parse(url: str) -> tuple[_Origin, str] | str:
    """The origin and request target of `url`, or why `url` cannot be requested."""
    if _CONTROL.search(url):
        return "control character in URL"
    match = _URL.match(url)
    if match is None:
        return "not an absolute http(s) URL"
    scheme, netloc, rest = match.groups()
    origin = _origin(scheme.lower(), netloc)
    if isinstance(origin, str):
        return origin
    target = rest if rest.startswith("/") else "/" + rest
    if not _PLAIN_TARGET.fullmatch(target):
        target = quote(target, safe=_TARGET_SAFE)
    return origin, target


@functools.lru_cache(maxsize=4096)
def _origin(scheme: str, netloc: str) -> _Origin | str:
    """Host, port and Host header of scheme://netloc (a sweep asks for a few, many times)."""
    if scheme not in ("http", "https"):
        return f"unsupported scheme {scheme!r}"
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port
    except ValueError as exc:
        return str(exc)
    host = parts.hostname or ""
    if not host or " " in host:
        return f"bad host {host!r}" if host else "no host in URL"
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            return f"bad host name ({exc})"
    default = 443 if scheme == "https" else 80
    port = port or default
    bracketed = f"[{host}]" if ":" in host else host
    host_header = bracketed if port == default else f"{bracketed}:{port}"
    return _Origin(scheme, host, port, host_header, "@" in netloc)


class Http11Client:
    """GETs over pooled HTTP/1.1 connections; see the module docstring for what it leaves out."""

    def __init__(
        self,
        fallback: Callable[[], HttpGetter],
        *,
        user_agent: str,
        use_proxy_fallback: bool | None = None,
        ssl_context: ssl.SSLContext | None = None,
        peer_check: PeerCheck | None = None,
    ):
        self._fallback_factory = fallback
        self._fallback: HttpGetter | None = None
        self._user_agent = user_agent
        self._proxied = proxy_configured() if use_proxy_fallback is None else use_proxy_fallback
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._ssl = ssl_context
        self._peer_check = peer_check
        self.connections_opened = 0
        # GETs in flight and their deadlines (loop time), watched by one timer.
        self._deadlines: dict[asyncio.Task[Any], float] = {}
        self._timed_out: set[asyncio.Task[Any]] = set()
        self._watchdog: asyncio.TimerHandle | None = None
        self._watchdog_at = 0.0
        self._watchdog_loop: asyncio.AbstractEventLoop | None = None

    def _fallback_getter(self) -> HttpGetter:
        if self._fallback is None:
            self._fallback = self._fallback_factory()
        return self._fallback

    async def get(
        self, url: str, *, headers: dict[str, str] | None, timeout: float, max_bytes: int
    ) -> Fetched | FetchFailure:
        """GET `url` without following redirects, reading at most `max_bytes` of the body."""
        parsed = _parse(url)
        if isinstance(parsed, str):
            return FetchFailure(f"invalid URL: {parsed}", invalid_url=True)
        origin, target = parsed
        if self._proxied or origin.credentials:
            return await self._fallback_getter().get(
                url, headers=headers, timeout=timeout, max_bytes=max_bytes
            )
        try:
            head = self._request_head(origin, target, headers)
        except ValueError as exc:
            return FetchFailure(f"invalid request header: {exc}")
        task = asyncio.current_task()
        assert task is not None, "Http11Client.get runs in a task"
        cancelling = task.cancelling()
        self._watch_over(task, timeout)
        try:
            return await self._exchange(url, origin, head, max_bytes)
        except asyncio.CancelledError:
            # Ours (the deadline passed) unless someone else cancelled the task too.
            if task in self._timed_out and task.uncancel() <= cancelling:
                return FetchFailure(f"timed out after {timeout:g}s (no complete answer)")
            raise
        except _RefusedPeer as exc:
            return FetchFailure(str(exc), refused=True)
        except (OSError, EOFError, _ProtocolError, asyncio.LimitOverrunError) as exc:
            return FetchFailure(f"connection failed ({type(exc).__name__}: {exc})")
        finally:
            self._deadlines.pop(task, None)
            self._timed_out.discard(task)

    async def post_form(
        self,
        url: str,
        form: dict[str, str],
        *,
        headers: dict[str, str] | None,
        timeout: float,
        max_bytes: int,
    ) -> Fetched | FetchFailure:
        """POSTs are rare (the Weibo visitor cookie): the fallback sends them."""
        return await self._fallback_getter().post_form(
            url, form, headers=headers, timeout=timeout, max_bytes=max_bytes
        )

    def _watch_over(self, task: asyncio.Task[Any], timeout: float) -> None:
        """Cancel `task` if its GET is still running `timeout` seconds from now.

        One timer watches every GET in flight (armed for the earliest deadline), where
        `asyncio.timeout` would add and cancel a timer per request.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._deadlines[task] = deadline
        if self._watchdog_loop is not loop:  # a client used again under a new loop
            self._watchdog, self._watchdog_loop = None, loop
            self._deadlines = {t: d for t, d in self._deadlines.items() if t.get_loop() is loop}
        if self._watchdog is None or self._watchdog_at > deadline:
            if self._watchdog is not None:
                self._watchdog.cancel()
            self._watchdog = loop.call_at(deadline, self._on_watchdog)
            self._watchdog_at = deadline

    def _on_watchdog(self) -> None:
        self._watchdog = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for task, deadline in list(self._deadlines.items()):
            if deadline <= now:
                del self._deadlines[task]
                self._timed_out.add(task)
                task.cancel()
        if self._deadlines:
            self._watchdog_at = min(self._deadlines.values())
            self._watchdog = loop.call_at(self._watchdog_at, self._on_watchdog)

    def _request_head(self, origin: _Origin, target: str, headers: dict[str, str] | None) -> bytes:
        fields = {
            "Host": origin.host_header,
            "User-Agent": self._user_agent,
            "Accept": "*/*",
            "Accept-Encoding": "gzip, deflate",
        }
        for name, value in (headers or {}).items():
            fields[name] = value
        lines = [f"GET {target} HTTP/1.1"]
        for name, value in fields.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise ValueError(f"header {name!r} holds a line break")
            lines.append(f"{name}: {value}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")

    async def _exchange(
        self, url: str, origin: _Origin, head: bytes, max_bytes: int
    ) -> Fetched | FetchFailure:
        conn = self._take_idle(origin)
        if conn is not None:
            try:
                return await self._roundtrip(origin, conn, url, head, max_bytes)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                # A kept-alive connection the server closed meanwhile: a GET may be retried.
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
        conn = await self._connect(origin)
        return await self._roundtrip(origin, conn, url, head, max_bytes)

    async def _roundtrip(
        self,
        origin: _Origin,
        conn: _Connection,
        url: str,
        head: bytes,
        max_bytes: int,
    ) -> Fetched:
        # Only a connection whose answer was read to its very end goes back to the pool:
        # after an error, a cut body or a cancellation (timeout) the rest of an answer may
        # still be on the wire, and the next GET would read it as its own.
        keep = False
        try:
            conn.writer.write(head)
            status, fields, reusable = await _read_head(conn.reader)
            body, too_large, complete = await _read_body(conn.reader, status, fields, max_bytes)
            keep = reusable and complete
            body, cut = _decode(body, fields.get("content-encoding", ""), max_bytes)
            return Fetched(url, status, fields, body, too_large or cut)
        finally:
            if keep:
                self._idle.setdefault(origin, []).append(conn)
                if len(self._idle[origin]) > MAX_IDLE_PER_ORIGIN:
                    self._idle[origin].pop(0).close()
            else:
                conn.close()

    def _take_idle(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    async def _connect(self, target: _Origin) -> _Connection:
        context = None
        if target.scheme == "https":
            if self._ssl is None:
                # The same trust store and SSL_CERT_FILE handling as httpx.
                self._ssl = httpx.create_ssl_context()
            context = self._ssl
        reader, writer = await asyncio.open_connection(
            target.host,
            target.port,
            ssl=context,
            server_hostname=target.host if context else None,
            limit=MAX_HEAD_BYTES,
        )
        self.connections_opened += 1
        if self._peer_check is not None:
            peer = writer.get_extra_info("peername")
            reason = self._peer_check(
                target.scheme, target.host, target.port, str(peer[0]) if peer else ""
            )
            if reason:
                writer.close()
                raise _RefusedPeer(reason)
        return _Connection(reader, writer)

    async def aclose(self) -> None:
        """Close idle connections and the fallback client."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
        if self._fallback is not None:
            await self._fallback.aclose()


class ResponseHeaders(Mapping[str, str]):
    """Response header fields looked up by any case of their name (repeats joined by ", ")."""

    __slots__ = ("_lower",)

    def __init__(self) -> None:
        self._lower: dict[str, str] = {}

    def add(self, name: str, value: str) -> None:
        key = name.lower()
        previous = self._lower.get(key)
        self._lower[key] = value if previous is None else f"{previous}, {value}"

    def __getitem__(self, name: str) -> str:
        return self._lower[name.lower()]

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return self._lower.get(name.lower(), default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._lower)

    def __len__(self) -> int:
        return len(self._lower)


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, ResponseHeaders, bool]:
    """Status, header fields and whether the connection may be kept (1xx answers skipped)."""
    while True:
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status_line = lines[0].split(" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/1."):
            raise _ProtocolError(f"bad status line {lines[0][:80]!r}")
        try:
            status = int(status_line[1])
        except ValueError:
            raise _ProtocolError(f"bad status code {status_line[1][:20]!r}") from None
        fields = ResponseHeaders()
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise _ProtocolError(f"bad header line {line[:80]!r}")
            fields.add(name, value.strip())
        if 100 <= status < 200:
            continue
        connection = fields.get("connection", "").lower()
        keep = status_line[0] == "HTTP/1.1" and "close" not in connection
        return status, fields, keep


async def _read_body(
    reader: asyncio.StreamReader, status: int, fields: ResponseHeaders, max_bytes: int
) -> tuple[bytes, bool, bool]:
    """The raw body (at most `max_bytes + 1`), whether it was cut, whether it ended cleanly."""
    if status in (204, 304):
        return b"", False, True
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return await _read_chunked(reader, max_bytes)
    length = fields.get("content-length")
    if length:
        try:
            size = int(length.split(",")[0])
        except ValueError:
            raise _ProtocolError(f"bad Content-Length {length[:40]!r}") from None
        if size < 0:
            raise _ProtocolError(f"bad Content-Length {length[:40]!r}")
        if size > max_bytes:
            return await reader.readexactly(max_bytes), True, False
        return (await reader.readexactly(size) if size else b""), False, True
    # No length: the body ends when the server closes the connection.
    body = await reader.read(max_bytes + 1)
    chunks = [body]
    total = len(body)
    while body and total <= max_bytes:
        body = await reader.read(max_bytes + 1 - total)
        chunks.append(body)
        total += len(body)
    data = b"".join(chunks)
    return data[:max_bytes], total > max_bytes, False


async def _read_chunked(reader: asyncio.StreamReader, max_bytes: int) -> tuple[bytes, bool, bool]:
    chunks: list[bytes] = []
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _ProtocolError(f"bad chunk size {line[:40]!r}") from None
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return b"".join(chunks), False, True
        if total + size > max_bytes:
            chunks.append(await reader.readexactly(max_bytes - total))
            return b"".join(chunks), True, False
        chunks.append(await reader.readexactly(size))
        total += size
        if await reader.readexactly(2) != b"\r\n":
            raise _ProtocolError("chunk not followed by CRLF")


def _decode(body: bytes, encoding: str, max_bytes: int) -> tuple[bytes, bool]:
    """The body without its Content-Encoding (gzip, deflate), capped at `max_bytes`."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity") or not body:
        return body, False
    if encoding in ("gzip", "x-gzip"):
        decoder = zlib.decompressobj(zlib.MAX_WBITS | 16)
    elif encoding == "deflate":
        # Servers send both zlib-wrapped and raw deflate under this name.
        wbits = zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS
        decoder = zlib.decompressobj(wbits)
    else:
        raise _ProtocolError(f"unsupported Content-Encoding {encoding[:40]!r}")
    try:
        out = decoder.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise _ProtocolError(f"bad {encoding} body ({exc})") from None
    if len(out) > max_bytes:
        return out[:max_bytes], True
    return out, False
