"""Which hosts a URL source may reach: public addresses only, unless an operator allows private ones.

mediajobs fetches URLs its users name. Without a guard, `http://169.254.169.254/...` or
`http://10.0.0.5:6379/` would make a worker probe the operator's own network (SSRF). So:

- the API refuses literal private addresses at submit time, so the user learns at once;
- a download resolves each host once, checks every address it got, and connects to that very address
  (`pinned_transport`): the HTTP `Host` header and the TLS SNI still name the host, but no second DNS
  answer (rebinding) can send the connection elsewhere. Redirects go through the same check.

An IPv6 address that carries an IPv4 address inside it (IPv4-mapped `::ffff:a.b.c.d`, NAT64
`64:ff9b::/96`, 6to4 `2002::/16`, Teredo, ISATAP, IPv4-compatible and -translated forms) is judged
by that IPv4 address: `64:ff9b::127.0.0.1` reaches the loopback of whatever NAT64 gateway serves it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from mediajobs.errors import ForbiddenSource, InvalidRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: never globally reachable
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # RFC 2765 ::ffff:0:a.b.c.d
_ISATAP_IDS = (0x00005EFE, 0x02005EFE)  # interface id 0:5efe:a.b.c.d (or 200:5efe:...)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (what it would reach through a translator)."""
    value = int(ip)
    low32 = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip in _NAT64_WELL_KNOWN or ip in _IPV4_TRANSLATED:
        found.append(low32)
    if ip in _IPV4_COMPATIBLE and value > 1:  # not :: or ::1, which are themselves non-public
        found.append(low32)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if (value >> 32) & 0xFFFFFFFF in _ISATAP_IDS:
        found.append(low32)
    return found


def is_public(ip: IPAddress) -> bool:
    """A globally reachable unicast address, and so is every IPv4 address it embeds."""
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL_USE:
            return False
        return all(is_public(v4) for v4 in embedded_ipv4(ip))
    return True


def parse_literal(host: str) -> IPAddress | None:
    """The address a host written as an IP literal names, legacy IPv4 spellings included
    (`2130706433`, `0x7f.1`, `127.1`: what the C resolver would make of them); None for a name."""
    name = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if name and all(c in "0123456789abcdefxABCDEFX." for c in name) and name[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    return None


def literal_host_is_private(host: str) -> bool:
    """True for `localhost` names and literal non-public IP addresses (no DNS lookup)."""
    name = host.strip("[]").lower().rstrip(".")
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    ip = parse_literal(name)
    return ip is not None and not is_public(ip)


def refuse_private_literal(host: str | None) -> None:
    """Submit-time check (InvalidRequest -> 422)."""
    if host and literal_host_is_private(host):
        raise InvalidRequest(
            f"source host {host[:100]!r} is not a public address "
            "(an operator can allow it: MEDIAJOBS_ALLOW_PRIVATE_SOURCES=true)",
            code="forbidden_source",
        )


def check_callback_url(url: str, *, allow_private: bool, field: str = "callback_url") -> str:
    """Submit-time check of a URL mediajobs will POST to (a webhook): a host that is not a literal
    private address (`forbidden_callback`), then https (http, and private hosts, only where the operator
    allows private sources) and no credentials (`invalid_callback_url`). The stripped URL. Every
    delivery checks the addresses the host resolves to again (PinnedTransport)."""
    clean = url.strip()
    try:
        parts = urlsplit(clean)
        host = parts.hostname
        parts.port  # noqa: B018 (a malformed port raises here)
    except ValueError:
        raise InvalidRequest(f"{field} {clean[:200]!r} is not a URL", code="invalid_callback_url") from None
    if not host:
        raise InvalidRequest(f"{field} has no host", code="invalid_callback_url")
    if not allow_private and literal_host_is_private(host):
        raise InvalidRequest(
            f"{field} host {host[:100]!r} is not a public address "
            "(an operator can allow it: MEDIAJOBS_ALLOW_PRIVATE_SOURCES=true)",
            code="forbidden_callback",
        )
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_private):
        raise InvalidRequest(f"{field} must be an https:// URL", code="invalid_callback_url")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest(
            f"{field} may not carry credentials (user:password@)", code="invalid_callback_url"
        )
    return clean


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (tests replace this to play a DNS server)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def resolve_checked(host: str, port: int, *, allow_private: bool = False) -> list[IPAddress]:
    """Resolve `host` once; every address must be public (unless allowed). The caller connects to
    these addresses and no others."""
    name = host.strip("[]")
    if not allow_private and literal_host_is_private(name):
        raise ForbiddenSource(f"refusing to fetch from {host[:100]!r}: not a public address")
    literal = parse_literal(name)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            answers = resolve_host(name, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host[:100]!r}: {exc}") from exc
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in answers]
    if not addresses:
        raise httpcore.ConnectError(f"{host[:100]!r} resolves to no address")
    if not allow_private:
        for ip in addresses:
            if not is_public(ip):
                raise ForbiddenSource(
                    f"refusing to fetch from {host[:100]!r}: it resolves to non-public {ip}"
                )
    return addresses


def check_public_host(host: str, port: int | None = None) -> None:
    """Raise ForbiddenSource unless every address `host` resolves to is public."""
    try:
        resolve_checked(host, port or 80)
    except httpcore.ConnectError:
        return  # unresolvable: the connection attempt itself reports it (and it may be transient)


class PinnedBackend(httpcore.NetworkBackend):
    """Connects to an address `resolve_checked` approved, never to a name a resolver may answer
    differently a second time. TLS is started by httpcore with the origin's host name as SNI."""

    def __init__(self, *, allow_private: bool, inner: httpcore.NetworkBackend | None = None) -> None:
        self.allow_private = allow_private
        self.inner = inner if inner is not None else httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve_checked(host, port, allow_private=self.allow_private)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for ip in addresses:
            try:
                return self.inner.connect_tcp(
                    str(ip), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not a URL source")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class PinnedTransport(httpx.HTTPTransport):
    """httpx's own transport (request/response and error mapping), over a `PinnedBackend` pool and
    with no proxy: a proxy would connect to the target by name, out of our sight."""

    def __init__(self, *, allow_private: bool, inner: httpcore.NetworkBackend | None = None) -> None:
        super().__init__(trust_env=False)
        ssl_context = self._pool._ssl_context  # the one httpx built (certifi's roots)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            network_backend=PinnedBackend(allow_private=allow_private, inner=inner),
        )


__all__ = [
    "PinnedBackend",
    "PinnedTransport",
    "check_callback_url",
    "check_public_host",
    "embedded_ipv4",
    "is_public",
    "literal_host_is_private",
    "parse_literal",
    "refuse_private_literal",
    "resolve_checked",
    "resolve_host",
]
