"""Outbound safety for roster-supplied URLs (feed URLs).

By default a URL whose host is, or resolves to, a loopback, private, link-local,
unspecified, multicast, reserved or otherwise non-global address is refused
before any request is sent. The origins of the configured platform base URLs
(`weibo.base_url`, `weibo.visitor_url`, `wechat.api_base_url`) are exempt, and
`network.allow_private_addresses = true` lifts the rule.

Usage: `ctx.url_guard = UrlGuard(settings)`; `await guard(url)` returns a reason
string when the URL must not be fetched, else None. The feed adapter builds one
from `ctx.settings` when `ctx.url_guard` is None, and checks every redirect hop.

The name is resolved here and again by the HTTP client. So that a DNS answer that
changes between the two (rebinding) cannot slip through, the built-in client
(`adapters.http11`) also asks `peer_reason` about the address each new connection
reached. Requests sent through a proxy (`*_PROXY`) are not judged at connect time:
the proxy resolves the name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def forbidden_reason(addr: Address) -> str | None:
    """Why an address must not be contacted, or None for an ordinary public address."""
    if isinstance(addr, ipaddress.IPv6Address):
        # An IPv6 form that embeds an IPv4 address is judged by that address.
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is not None:
            inner = forbidden_reason(embedded)
            return f"{inner} (embedded in {addr})" if inner else None
        if addr.teredo is not None:
            return "a Teredo tunnel address"
    checks = (
        ("loopback", addr.is_loopback),
        ("unspecified", addr.is_unspecified),
        ("link-local", addr.is_link_local),
        ("multicast", addr.is_multicast),
        ("reserved", addr.is_reserved),
        ("private", addr.is_private),
        ("site-local", isinstance(addr, ipaddress.IPv6Address) and addr.is_site_local),
        # Covers what the flags above miss: shared 100.64/10, documentation ranges, ...
        ("non-global", not addr.is_global),
    )
    for label, hit in checks:
        if hit:
            return f"a {label} address"
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host (via the running loop)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, with default ports filled in; None if unusable."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if not host or port is None:
        return None
    return scheme, host, port


def exempt_origins(settings: Any) -> set[tuple[str, str, int]]:
    """The origins of the configured platform base URLs."""
    out = set()
    for url in (settings.weibo.base_url, settings.weibo.visitor_url, settings.wechat.api_base_url):
        o = origin(url)
        if o is not None:
            out.add(o)
    return out


class UrlGuard:
    """Callable guard: `await guard(url)` -> reason string to refuse, or None to allow."""

    def __init__(self, settings: Any, resolver: Resolver | None = None):
        self.allow_private = bool(settings.network.allow_private_addresses)
        self.exempt = exempt_origins(settings)
        self.resolver = resolver or system_resolver

    def peer_reason(self, scheme: str, host: str, port: int, peer: str) -> str | None:
        """Why a connection made for (scheme, host, port) must not be used, having reached `peer`."""
        if self.allow_private or (scheme, host.lower(), port) in self.exempt:
            return None
        try:
            addr = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return f"refused {host}: connected to an unreadable address {peer!r}"
        reason = forbidden_reason(addr)
        if reason is None:
            return None
        return (
            f"refused {host}: connected to {addr}, {reason} "
            "(the name resolved to another address when checked: DNS rebinding?)"
        )

    async def __call__(self, url: str) -> str | None:
        o = origin(url)
        if o is None:
            return f"refused {url!r}: not an absolute http(s) URL"
        scheme, host, port = o
        if scheme not in _DEFAULT_PORTS:
            return f"refused {url!r}: scheme {scheme!r} is not http or https"
        if self.allow_private or o in self.exempt:
            return None
        try:
            literal: Address | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            reason = forbidden_reason(literal)
            return f"refused {host}: {reason}" if reason else None
        try:
            addresses = await self.resolver(host, port)
        except (OSError, UnicodeError):
            # Unresolvable now: the fetch itself will fail and be reported as transient.
            return None
        for text in addresses:
            try:
                addr = ipaddress.ip_address(text.split("%", 1)[0])
            except ValueError:
                return f"refused {host}: resolver returned unreadable address {text!r}"
            reason = forbidden_reason(addr)
            if reason:
                return f"refused {host}: resolves to {addr}, {reason}"
        return None
