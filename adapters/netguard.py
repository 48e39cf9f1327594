"""Outbound safety: which addresses the monitor may reach, judged before and at connect time.

By default a URL whose host is, or resolves to, a loopback, private, link-local,
unspecified, multicast, reserved or otherwise non-global address is refused
before any request is sent. Exceptions, in order:

- the origins of the configured platform base URLs (the manifests' `origins`:
  `weibo.base_url`, `weibo.visitor_url`, `wechat.api_base_url`) are exempt: the
  office chose them;
- `network.allowed_networks` (CIDRs): a non-public address inside a listed
  network is allowed, whatever its kind (list 169.254.0.0/16 to reach link-local);
- `network.allow_private_addresses = true` allows every non-public address
  except link-local and cloud metadata addresses, which stay refused unless
  listed in `allowed_networks`.

`AddressPolicy.reason(addr)` is the one rule. `UrlGuard` applies it to a URL
(its host, or every address the name resolves to) before a request;
`AddressPolicy.peer_reason` applies it to the address a connection actually
reached, after connect and before a byte is sent, so a DNS answer that changes
between the two (rebinding) is refused there. Every HTTP path passes that
check: httpx (adapters.transport) and requests (wechatpy, apprise webhooks:
adapters.requests_guard).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import urllib.request
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from monitor.messages import Message, message
from monitor.models import MessageCode as C

if TYPE_CHECKING:
    from monitor.settings import Settings


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Instance metadata services: a fetch there hands out cloud credentials. The IPv4
# link-local ones (169.254.169.254 for AWS, GCP, Azure, Huawei, Tencent's 169.254.0.23)
# are covered by the link-local rule; these are not.
METADATA_ADDRESSES: frozenset[Address] = frozenset(
    {
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    }
)


class GuardRefusal(Exception):
    """A connection reached an address the outbound policy refuses (raised at connect time)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        # A Message from this module's rules; a plain str from another judge.
        self.reason = reason


def forbidden_reason(addr: Address) -> Message | None:
    """Why an address is not an ordinary public one, or None for a public address."""
    embedded = _embedded(addr)
    if embedded is not None:
        inner = forbidden_reason(embedded)
        return message(C.GUARD_EMBEDDED, inner=inner, addr=str(addr)) if inner else None
    if isinstance(addr, ipaddress.IPv6Address) and addr.teredo is not None:
        return message(C.GUARD_TEREDO)
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
            return message(C.GUARD_ADDRESS_KIND, kind=label)
    return None


def never_without_listing(addr: Address) -> Message | None:
    """Why an address stays refused even with allow_private_addresses (link-local, metadata)."""
    embedded = _embedded(addr)
    if embedded is not None:
        inner = never_without_listing(embedded)
        return message(C.GUARD_EMBEDDED, inner=inner, addr=str(addr)) if inner else None
    if addr in METADATA_ADDRESSES:
        return message(C.GUARD_METADATA)
    if addr.is_link_local:
        return message(C.GUARD_LINK_LOCAL)
    return None


def _embedded(addr: Address) -> Address | None:
    """The IPv4 address an IPv6 form wraps (mapped or 6to4): it is judged instead."""
    if isinstance(addr, ipaddress.IPv6Address):
        return addr.ipv4_mapped or addr.sixtofour
    return None


def refusal_message(reason: str) -> Message:
    """A refusal as a message: this module's own reasons are one already."""
    if isinstance(reason, Message):
        return reason
    return message(C.REFUSED_OTHER, reason=str(reason))


def parse_address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0].strip("[]"))
    except ValueError:
        return None


def parse_networks(values: Iterable[str]) -> list[Network]:
    """CIDRs as written in `network.allowed_networks`; ValueError names the bad one."""
    out: list[Network] = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a network such as 10.1.2.0/24 ({exc})") from None
    return out


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


def exempt_origins(settings: Settings) -> set[tuple[str, int]]:
    """(host, port) of the configured platform base URLs and of proxies set in the environment.

    Through a proxy the connection's peer is the proxy, which the operator chose; the
    proxy resolves the target's name, so the target is judged by `UrlGuard` before.
    """
    from adapters import source_urls

    urls = [url for url, _ in source_urls(settings)]
    urls += [u for k, u in urllib.request.getproxies().items() if k != "no"]
    out = set()
    for url in urls:
        o = origin(url)
        if o is not None:
            out.add((o[1], o[2]))
    return out


class AddressPolicy:
    """The rule for one configuration: which addresses may be reached, and from which origins."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allowed_networks: Iterable[Network] = (),
        exempt: Iterable[tuple[str, int]] = (),
    ):
        self.allow_private = allow_private
        self.allowed_networks = tuple(allowed_networks)
        self.exempt = {(h.lower(), p) for h, p in exempt}

    @classmethod
    def from_settings(cls, settings: Settings) -> AddressPolicy:
        net = settings.network
        return cls(
            allow_private=bool(net.allow_private_addresses),
            allowed_networks=parse_networks(getattr(net, "allowed_networks", None) or ()),
            exempt=exempt_origins(settings),
        )

    def is_exempt(self, host: str, port: int) -> bool:
        return (host.lower().strip("[]"), port) in self.exempt

    def reason(self, addr: Address) -> Message | None:
        """Why `addr` must not be contacted, or None."""
        if any(addr in net for net in self.allowed_networks):
            return None
        embedded = _embedded(addr)
        if embedded is not None and any(embedded in net for net in self.allowed_networks):
            return None
        always = never_without_listing(addr)
        if always is not None:
            return always
        reason = forbidden_reason(addr)
        if reason is None or self.allow_private:
            return None
        return reason

    def peer_reason(self, host: str, port: int, peer: str) -> Message | None:
        """Why a connection made for (host, port) must not be used, having reached `peer`."""
        if self.is_exempt(host, port):
            return None
        addr = parse_address(peer)
        if addr is None:
            return message(C.GUARD_UNREADABLE_PEER, host=host, peer=peer)
        reason = self.reason(addr)
        if reason is None:
            return None
        if parse_address(host) is not None:
            return message(C.GUARD_REFUSED_HOST, host=host, reason=reason)
        return message(C.GUARD_REBINDING, host=host, addr=str(addr), reason=reason)


class UrlGuard:
    """Callable guard: `await guard(url)` -> reason string to refuse, or None to allow."""

    def __init__(self, settings: Settings, resolver: Resolver | None = None):
        self.policy = AddressPolicy.from_settings(settings)
        # Looked up at call time, so tests can script the module's resolver.
        self._resolver = resolver

    def peer_reason(self, host: str, port: int, peer: str) -> Message | None:
        """The connect-time check (see AddressPolicy.peer_reason)."""
        return self.policy.peer_reason(host, port, peer)

    async def __call__(self, url: str) -> Message | None:
        o = origin(url)
        if o is None:
            return message(C.GUARD_NOT_ABSOLUTE, url=url)
        scheme, host, port = o
        if scheme not in _DEFAULT_PORTS:
            return message(C.GUARD_SCHEME, url=url, scheme=scheme)
        if self.policy.is_exempt(host, port):
            return None
        literal = parse_address(host)
        if literal is not None:
            reason = self.policy.reason(literal)
            return message(C.GUARD_REFUSED_HOST, host=host, reason=reason) if reason else None
        resolve = self._resolver or system_resolver
        try:
            addresses = await resolve(host, port)
        except (OSError, UnicodeError):
            # Unresolvable now: the fetch itself will fail and be reported as transient.
            return None
        for text in addresses:
            addr = parse_address(text)
            if addr is None:
                return message(C.GUARD_UNREADABLE_RESOLVED, host=host, address=text)
            reason = self.policy.reason(addr)
            if reason:
                return message(C.GUARD_RESOLVES_TO, host=host, addr=str(addr), reason=reason)
        return None
