"""A small HTTP/1.1 server on asyncio streams: keep-alive, Content-Length and chunked bodies.

Just enough of the protocol for httpx and requests clients; no TLS, no pipelining
guarantees beyond in-order answers on one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024


@dataclass(slots=True)
class Request:
    """One parsed request; `query` keeps the first value of each parameter."""

    method: str
    target: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    peer: str = ""


@dataclass(slots=True)
class Response:
    """An answer; `hold` means: send nothing and keep the connection busy (timeout fault)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    hold: bool = False


Handler = Callable[[Request], Awaitable[Response]]


class BadRequest(Exception):
    """The bytes on the wire are not an HTTP request we accept."""


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _DateCache:
    # Formatting the Date header per response is measurable at thousands of requests/s.
    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def get(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = formatdate(now, usegmt=True)
        return self._value


_dates = _DateCache()


def parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    """Request line and headers of a request head (without the final blank line)."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes any byte
        raise BadRequest("undecodable head") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"bad request line {lines[0][:80]!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest(f"bad header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return method.upper(), target, version, headers


def make_request(
    method: str, target: str, headers: dict[str, str], body: bytes, peer: str
) -> Request:
    """A Request from its parts; absolute-form targets keep only path and query."""
    split = urlsplit(target)
    query: dict[str, str] = {}
    for key, value in parse_qsl(split.query, keep_blank_values=True):
        query.setdefault(key, value)
    return Request(method, target, split.path or "/", query, headers, body, peer)


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        size_total = 0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                # Trailers end with a blank line.
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return b"".join(chunks)
            size_total += size
            if size_total > MAX_BODY:
                raise BadRequest("body too large")
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = headers.get("content-length")
    if not length:
        return b""
    try:
        n = int(length)
    except ValueError as exc:
        raise BadRequest("bad Content-Length") from exc
    if n < 0 or n > MAX_BODY:
        raise BadRequest("bad Content-Length")
    return await reader.readexactly(n) if n else b""


def encode_response(resp: Response, *, keep_alive: bool, head_only: bool = False) -> bytes:
    """The bytes of a response: status line, headers, body."""
    lines = [
        f"HTTP/1.1 {resp.status} {_reason(resp.status)}",
        f"Date: {_dates.get()}",
        "Server: newmedia-monitor-simulator",
    ]
    if resp.status != 304:
        lines.append(f"Content-Type: {resp.content_type}")
        lines.append(f"Content-Length: {len(resp.body)}")
    lines.extend(f"{k}: {v}" for k, v in resp.headers)
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    if head_only or resp.status == 304:
        return head
    return head + resp.body


class HttpServer:
    """Serves `handler` on host:port; `close()` also ends open and held connections."""

    def __init__(self, handler: Handler, *, hold_seconds: float = 120.0) -> None:
        self._handler = handler
        self._hold_seconds = hold_seconds
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections_opened = 0

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        self._server = await asyncio.start_server(
            self._on_connection, host, port, backlog=2048, limit=MAX_HEAD
        )
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and cancel every connection, held ones included."""
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.connections_opened += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        peer_info = writer.get_extra_info("peername")
        peer = str(peer_info[0]) if peer_info else ""
        try:
            await self._serve(reader, writer, peer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("simulator connection failed")
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            except asyncio.LimitOverrunError:
                writer.write(encode_response(_plain(431, "head too large"), keep_alive=False))
                await writer.drain()
                return
            try:
                method, target, version, headers = parse_head(head[:-4])
                body = await _read_body(reader, headers)
            except (BadRequest, ValueError) as exc:
                writer.write(encode_response(_plain(400, str(exc)), keep_alive=False))
                await writer.drain()
                return
            conn = headers.get("connection", "").lower()
            keep_alive = conn != "close" and (version == "HTTP/1.1" or conn == "keep-alive")
            resp = await self._handler(make_request(method, target, headers, body, peer))
            if resp.hold:
                # Answer nothing: the client's read timeout fires; close() cancels us.
                await asyncio.sleep(self._hold_seconds)
                return
            writer.write(encode_response(resp, keep_alive=keep_alive, head_only=method == "HEAD"))
            await writer.drain()
            if not keep_alive:
                return


def _plain(status: int, text: str) -> Response:
    return Response(status, text.encode(), "text/plain; charset=utf-8")
