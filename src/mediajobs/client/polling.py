"""Waiting for a job or a batch to end by asking for it again every few seconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .errors import WaitTimeout


def poll_until(
    fetch: Callable[[], dict[str, Any]],
    ended: Callable[[dict[str, Any]], bool],
    *,
    what: str,
    timeout: float | None,
    poll: float,
    on_update: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Any]:
    """`fetch()` every `poll` seconds until `ended` says so (returns that answer) or `timeout`
    seconds pass (WaitTimeout naming `what` and its status); each answer goes to `on_update`."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        document = fetch()
        if on_update is not None:
            on_update(document)
        if ended(document):
            return document
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimeout(f"{what} is still {document['status']} after {timeout} s")
        time.sleep(poll)  # a client's polling interval, not a test wait


__all__ = ["poll_until"]
