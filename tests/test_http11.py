"""The lean HTTP/1.1 client against a real loopback server that answers scripted bytes."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import ipaddress
import ssl
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters._http import Fetched, FetchFailure
from adapters.http11 import Http11Client, proxy_configured

Answer = bytes | Callable[[bytes], bytes] | None  # None: say nothing (a hung server)


def response(body: bytes = b"{}", status: str = "200 OK", headers: tuple[str, ...] = ()) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class ScriptedServer:
    """Answers the n-th request with answers[n]; `close_after` closes after those answers."""

    def __init__(self, answers: list[Answer], close_after: set[int] | None = None):
        self.answers = answers
        self.close_after = close_after or set()
        self.requests: list[bytes] = []
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=ssl_context)
        return self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                n = len(self.requests)
                self.requests.append(head)
                answer = self.answers[n] if n < len(self.answers) else response()
                if answer is None:
                    await asyncio.sleep(30)
                    return
                writer.write(answer(head) if callable(answer) else answer)
                await writer.drain()
                if n in self.close_after:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()


def get(
    answers: list[Answer],
    paths: list[str],
    *,
    close_after: set[int] | None = None,
    max_bytes: int = 10_000,
    timeout: float = 5,
    headers: dict[str, str] | None = None,
) -> tuple[list[Fetched | FetchFailure], ScriptedServer, Http11Client]:
    server = ScriptedServer(answers, close_after)
    client = Http11Client(_no_fallback, user_agent="test-agent", use_proxy_fallback=False)

    async def go() -> list[Fetched | FetchFailure]:
        port = await server.start()
        out = []
        for path in paths:
            out.append(
                await client.get(
                    f"http://127.0.0.1:{port}{path}",
                    headers=headers,
                    timeout=timeout,
                    max_bytes=max_bytes,
                )
            )
            await asyncio.sleep(0.01)  # let a closing server's FIN arrive
        await client.aclose()
        await server.close()
        return out

    return asyncio.run(go()), server, client


def _no_fallback():  # pragma: no cover - a test that reaches it fails
    raise AssertionError("the fallback getter must not be used here")


def fetched(result: Fetched | FetchFailure) -> Fetched:
    assert isinstance(result, Fetched), result
    return result


def test_keep_alive_reuses_one_connection_and_sends_the_request_as_given():
    (a, b, c), server, client = get(
        [response(b'{"ok":1}'), response(b"two"), response(b"three")],
        ["/api/container/getIndex?type=uid&value=1", "/b", "/c"],
        headers={"Referer": "https://m.weibo.cn/u/1", "Cookie": "SUB=x"},
    )
    assert fetched(a).status == 200 and fetched(a).body == b'{"ok":1}'
    assert fetched(b).body == b"two" and fetched(c).body == b"three"
    assert server.connections == 1 and client.connections_opened == 1
    first = server.requests[0].decode()
    assert first.startswith("GET /api/container/getIndex?type=uid&value=1 HTTP/1.1\r\n")
    assert "\r\nHost: 127.0.0.1:" in first
    assert "\r\nUser-Agent: test-agent\r\n" in first
    assert "\r\nCookie: SUB=x\r\n" in first
    assert "\r\nAccept-Encoding: gzip, deflate\r\n" in first


def test_a_connection_the_server_closed_is_not_reused_and_the_get_succeeds():
    (a, b), server, _ = get([response(b"one"), response(b"two")], ["/a", "/b"], close_after={0})
    assert fetched(a).body == b"one" and fetched(b).body == b"two"
    assert server.connections == 2


def test_connection_close_is_honoured():
    (a, b), server, _ = get(
        [response(b"one", headers=("Connection: close",)), response(b"two")], ["/a", "/b"]
    )
    assert fetched(a).body == b"one" and fetched(b).body == b"two"
    assert server.connections == 2


def test_chunked_bodies_with_extensions_and_trailers_are_joined():
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;name=x\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    (a, b), server, _ = get([chunked, response(b"next")], ["/a", "/b"])
    assert fetched(a).body == b"Wikipedia"
    assert fetched(b).body == b"next" and server.connections == 1


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda d: zlib.compress(d)[2:-4]),  # raw deflate, as some servers send
    ],
)
def test_compressed_bodies_are_decoded(encoding, encode):
    payload = "政务微博".encode() * 50
    (a,), _, _ = get(
        [response(encode(payload), headers=(f"Content-Encoding: {encoding}",))], ["/a"]
    )
    assert fetched(a).body == payload and not fetched(a).too_large


def test_bodies_over_the_cap_are_cut_and_marked_before_and_after_decoding():
    big = b"x" * 5000
    (plain, bomb, after), server, _ = get(
        [
            response(big),
            response(gzip.compress(b"y" * 100_000), headers=("Content-Encoding: gzip",)),
            response(b"fine"),
        ],
        ["/a", "/b", "/c"],
        max_bytes=1000,
    )
    assert fetched(plain).too_large and len(fetched(plain).body) == 1000
    assert fetched(bomb).too_large and fetched(bomb).body == b"y" * 1000
    assert fetched(after).body == b"fine"
    # A body left unread spoils its connection: the next GET opened a fresh one.
    assert server.connections == 2


def test_a_body_without_length_ends_at_close():
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\r\n<rss/>"
    (a,), _, _ = get([raw], ["/a"], close_after={0})
    assert fetched(a).body == b"<rss/>"
    assert fetched(a).headers["content-type"] == "text/xml"


def test_informational_answers_are_skipped_and_headers_are_case_insensitive():
    raw = b"HTTP/1.1 100 Continue\r\n\r\n" + response(
        b"", status="304 Not Modified", headers=('ETag: "v1"', "Retry-After: 7")
    ).replace(b"Content-Length: 0\r\n", b"")
    (a,), _, _ = get([raw], ["/a"])
    assert fetched(a).status == 304
    assert fetched(a).headers.get("etag") == '"v1"'
    assert fetched(a).headers.get("RETRY-AFTER") == "7"


def test_redirects_are_answers_not_followed():
    (a,), server, _ = get(
        [response(b"", status="302 Found", headers=("Location: https://passport.weibo.cn/",))],
        ["/a"],
    )
    assert fetched(a).status == 302
    assert fetched(a).headers["location"] == "https://passport.weibo.cn/"
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 4\r\n\r\nnope",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
    ],
)
def test_broken_answers_are_failures_never_exceptions(raw):
    (a,), _, _ = get([raw], ["/a"], close_after={0})
    assert isinstance(a, FetchFailure) and not a.invalid_url
    assert a.detail.startswith("connection failed (")


def test_a_connection_left_mid_answer_is_never_reused():
    # 5 of 100 promised bytes, then silence: the GET times out with the rest still owed.
    partial = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/"
    (a, b), server, _ = get([partial, response(b"two")], ["/a", "/b"], timeout=0.3)
    assert isinstance(a, FetchFailure) and a.detail.startswith("timed out")
    assert fetched(b).body == b"two"
    assert server.connections == 2


def test_a_server_that_never_answers_times_out():
    (a,), _, _ = get([None], ["/a"], timeout=0.3)
    assert isinstance(a, FetchFailure)
    assert a.detail.startswith("timed out after 0.3s")


def test_one_get_timing_out_leaves_the_others_alone_and_outside_cancels_still_cancel():
    hung = ScriptedServer([None, None])
    fine = ScriptedServer([response(b"quick")])
    client = Http11Client(_no_fallback, user_agent="t", use_proxy_fallback=False)

    async def go() -> tuple[object, ...]:
        hung_port, fine_port = await hung.start(), await fine.start()
        slow = asyncio.create_task(
            client.get(f"http://127.0.0.1:{hung_port}/", headers=None, timeout=0.3, max_bytes=99)
        )
        quick = await client.get(
            f"http://127.0.0.1:{fine_port}/", headers=None, timeout=5, max_bytes=99
        )
        timed_out = await slow
        # A GET cancelled from outside (a shutdown) is cancelled, not a failed check.
        doomed = asyncio.create_task(
            client.get(f"http://127.0.0.1:{hung_port}/", headers=None, timeout=5, max_bytes=99)
        )
        await asyncio.sleep(0.05)
        doomed.cancel()
        outcome = await asyncio.gather(doomed, return_exceptions=True)
        await client.aclose()
        await hung.close()
        await fine.close()
        return quick, timed_out, outcome[0]

    quick, timed_out, cancelled = asyncio.run(go())
    assert fetched(quick).body == b"quick"  # type: ignore[arg-type]
    assert isinstance(timed_out, FetchFailure) and timed_out.detail.startswith("timed out")
    assert isinstance(cancelled, asyncio.CancelledError)


def test_a_refused_connection_is_a_failure():
    client = Http11Client(_no_fallback, user_agent="t", use_proxy_fallback=False)

    async def go() -> Fetched | FetchFailure:
        # Bind a port and close it again: nothing listens there now.
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        return await client.get(f"http://127.0.0.1:{port}/", headers=None, timeout=5, max_bytes=100)

    result = asyncio.run(go())
    assert isinstance(result, FetchFailure) and "ConnectionRefusedError" in result.detail


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/feed.xml",
        "http:///no-host",
        "http://example.org:99999/",
        "http://exa mple.org/",
        "http://example.org/a\nb",
    ],
)
def test_urls_that_cannot_be_requested_are_invalid_urls(url):
    client = Http11Client(_no_fallback, user_agent="t", use_proxy_fallback=False)
    result = asyncio.run(client.get(url, headers=None, timeout=1, max_bytes=100))
    assert isinstance(result, FetchFailure) and result.invalid_url


def test_a_header_with_a_line_break_is_refused_before_sending():
    (a,), server, _ = get([response()], ["/a"], headers={"Cookie": "a=1\r\nX-Evil: 1"})
    assert isinstance(a, FetchFailure) and "line break" in a.detail
    assert server.requests == []


def test_non_ascii_paths_are_percent_encoded():
    (a,), server, _ = get([response()], ["/rss/政务?q=深圳 发布"])
    assert fetched(a).status == 200
    line = server.requests[0].split(b"\r\n")[0].decode()
    assert line == "GET /rss/%E6%94%BF%E5%8A%A1?q=%E6%B7%B1%E5%9C%B3%20%E5%8F%91%E5%B8%83 HTTP/1.1"


class RecordingFallback:
    def __init__(self) -> None:
        self.urls: list[str] = []
        self.closed = False

    async def get(self, url, *, headers, timeout, max_bytes):
        self.urls.append(url)
        return FetchFailure("via fallback")

    async def aclose(self) -> None:
        self.closed = True


def test_proxies_and_credentials_in_urls_go_through_the_fallback():
    fallback = RecordingFallback()
    proxied = Http11Client(lambda: fallback, user_agent="t", use_proxy_fallback=True)
    direct = Http11Client(lambda: fallback, user_agent="t", use_proxy_fallback=False)

    async def go() -> None:
        await proxied.get("http://example.org/feed", headers=None, timeout=1, max_bytes=10)
        await direct.get("http://user:pw@example.org/feed", headers=None, timeout=1, max_bytes=10)
        await proxied.aclose()

    asyncio.run(go())
    assert fallback.urls == ["http://example.org/feed", "http://user:pw@example.org/feed"]
    assert fallback.closed


def test_proxy_variables_are_read_in_either_case():
    assert proxy_configured({"HTTPS_PROXY": "http://proxy:3128"})
    assert proxy_configured({"all_proxy": "socks5://proxy:1080"})
    assert not proxy_configured({"NO_PROXY": "*", "PATH": "/bin"})


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_https_verifies_the_certificate(tmp_path):
    cert_file, key_file = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_file, key_file)
    trusting = Http11Client(
        _no_fallback,
        user_agent="t",
        use_proxy_fallback=False,
        ssl_context=ssl.create_default_context(cafile=str(cert_file)),
    )
    default_trust = Http11Client(_no_fallback, user_agent="t", use_proxy_fallback=False)
    server = ScriptedServer([response(b"secure"), response(b"again")])

    async def go() -> tuple[Fetched | FetchFailure, ...]:
        port = await server.start(server_ctx)
        url = f"https://127.0.0.1:{port}/feed"
        ok = await trusting.get(url, headers=None, timeout=5, max_bytes=100)
        again = await trusting.get(url, headers=None, timeout=5, max_bytes=100)
        refused = await default_trust.get(url, headers=None, timeout=5, max_bytes=100)
        for client in (trusting, default_trust):
            await client.aclose()
        await server.close()
        return ok, again, refused

    ok, again, refused = asyncio.run(go())
    assert fetched(ok).body == b"secure" and fetched(again).body == b"again"
    assert trusting.connections_opened == 1
    assert isinstance(refused, FetchFailure) and "SSLCertVerificationError" in refused.detail
