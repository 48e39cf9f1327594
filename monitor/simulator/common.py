"""Helpers shared by the protocol modules: stable hashes, JSON bodies, canned error pages."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from zoneinfo import ZoneInfo

from monitor.simulator.http import Response

SHANGHAI = ZoneInfo("Asia/Shanghai")

HTML_500 = (
    b"<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
    b"<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def stable_int(*parts: object) -> int:
    """A 64-bit integer that depends only on `parts` (not on PYTHONHASHSEED)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def stable_token(*parts: object, length: int = 22) -> str:
    """A URL-safe pseudo-random identifier derived from `parts`."""
    text = "\x1f".join(str(p) for p in parts).encode()
    raw = hashlib.blake2b(text, digest_size=32).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")[:length]


def json_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON as the platforms send it (Chinese unescaped)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(
    obj: Any, status: int = 200, content_type: str = "application/json; charset=utf-8"
) -> Response:
    """A JSON answer."""
    return Response(status, json_bytes(obj), content_type)


def truncated(body: bytes) -> bytes:
    """The first half of a body: what a cut-off upstream answer looks like."""
    return body[: max(1, len(body) // 2)]


def html_500() -> Response:
    """The nginx-style 500 page every fault `http_500` answers."""
    return Response(500, HTML_500, "text/html; charset=utf-8")
