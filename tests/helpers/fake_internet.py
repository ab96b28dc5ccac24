"""A stand-in internet for tests whose worker must meet a *public* host with private sources off:
connections to PUBLIC_IP are made to 127.0.0.1 (same port), below the address rules, which still
judge every host as they would in production. Usable in-process (`guarded_http`) and, as a plug-in
(MEDIAJOBS_PLUGINS=helpers.fake_internet), in a worker process."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpcore

from mediajobs.engines.http import OUTBOUND_HTTP, GuardedHttp
from mediajobs.registry import Registry

PUBLIC_IP = "93.184.216.34"  # a public address; here it answers on the loopback


class LoopbackInternet(httpcore.NetworkBackend):
    """PUBLIC_IP is this machine; every other address is unreachable (nothing leaves the machine)."""

    def __init__(self) -> None:
        self.inner = httpcore.SyncBackend()
        self.connects: list[tuple[str, int]] = []

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self.connects.append((host, port))
        if host == PUBLIC_IP:
            host = "127.0.0.1"
        elif not host.startswith("127."):
            raise httpcore.ConnectError(f"test network: {host} is not reachable")
        return self.inner.connect_tcp(host, port, timeout=timeout, socket_options=socket_options)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("no unix sockets")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def public_url(local_url: str) -> str:
    """`http://127.0.0.1:<port>/...` as the public address that reaches it."""
    return local_url.replace("127.0.0.1", PUBLIC_IP, 1)


def register(registry: Registry) -> None:
    registry.add_engine(
        OUTBOUND_HTTP,
        lambda settings: GuardedHttp(allow_private=settings.allow_private_sources, inner=LoopbackInternet()),
    )
