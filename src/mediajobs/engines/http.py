"""The outbound HTTP port: every request mediajobs makes to a URL a user named goes through it.

`GuardedHttp` (the default) builds httpx clients on `netguard.PinnedTransport`, so a download (and,
later, a publish or a webhook) reaches only public addresses unless the operator allows private ones,
redirects included. Tests give a worker an `httpx.MockTransport` instead (mediajobs.testing.MockHttp),
or the real guard against a server on 127.0.0.1 with private sources allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import httpcore
import httpx

from mediajobs.netguard import PinnedTransport

from .registry import Slot


class OutboundHttp(Protocol):
    """Makes the HTTP clients outbound requests use."""

    def client(
        self,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        max_redirects: int = 5,
    ) -> httpx.Client:
        """A client whose every connection (redirects too) follows the deployment's address rules."""
        ...


class GuardedHttp:
    """Clients that connect only to public addresses (`allow_private`: to any). `inner`: the network
    the checked connections are made on (default: the machine's sockets; tests give a stand-in)."""

    def __init__(self, *, allow_private: bool = False, inner: httpcore.NetworkBackend | None = None) -> None:
        self.allow_private = allow_private
        self.inner = inner

    def client(
        self,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        max_redirects: int = 5,
    ) -> httpx.Client:
        return httpx.Client(
            follow_redirects=follow_redirects,
            max_redirects=max_redirects,
            timeout=httpx.Timeout(timeout),
            headers=dict(headers or {}),
            transport=PinnedTransport(allow_private=self.allow_private, inner=self.inner),
            trust_env=False,  # no proxy from the environment: it would bypass the address check
        )


OUTBOUND_HTTP: Slot[OutboundHttp] = Slot("outbound_http")
"""The registry slot of the worker's outbound HTTP."""

__all__ = ["OUTBOUND_HTTP", "GuardedHttp", "OutboundHttp"]
