"""Which hosts a URL source may reach: public addresses only, unless an operator allows private ones.

mediajobs fetches URLs its users name. Without a guard, `http://169.254.169.254/...` or
`http://10.0.0.5:6379/` would make a worker probe the operator's own network (SSRF). The download
checks every hop (redirects too) against the addresses its host resolves to; the API refuses literal
private addresses at submit time so the user learns at once.

What this does not stop: a name that resolves to a public address when checked and to a private one
when connected (DNS rebinding). Operators who need that closed should also filter egress.
"""

from __future__ import annotations

import ipaddress
import socket

from mediajobs.errors import ForbiddenSource, InvalidRequest

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def _non_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return not ip.is_global or ip.is_multicast


def literal_host_is_private(host: str) -> bool:
    """True for `localhost` names and literal non-public IP addresses (no DNS lookup)."""
    name = host.strip("[]").lower().rstrip(".")
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        return _non_public(name)
    except ValueError:
        return False


def refuse_private_literal(host: str | None) -> None:
    """Submit-time check (InvalidRequest -> 422)."""
    if host and literal_host_is_private(host):
        raise InvalidRequest(
            f"source host {host!r} is not a public address "
            "(an operator can allow it: MEDIAJOBS_ALLOW_PRIVATE_SOURCES=true)",
            code="forbidden_source",
        )


def check_public_host(host: str, port: int | None = None) -> None:
    """Connect-time check: every address `host` resolves to must be public."""
    if literal_host_is_private(host):
        raise ForbiddenSource(f"refusing to fetch from {host!r}: not a public address")
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port or 80, proto=socket.IPPROTO_TCP)
    except OSError:
        return  # unresolvable: the connection attempt itself reports it (and it may be transient)
    for info in infos:
        address = str(info[4][0])
        if _non_public(address):
            raise ForbiddenSource(f"refusing to fetch from {host!r}: it resolves to non-public {address}")
