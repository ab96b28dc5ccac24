"""Routing is a function of (lane, stage kind): one broker queue for each pair.

One queue per stage kind lets an operator give a stage kind its own workers (`-Q transcribe`); a
lane other than `standard` prefixes the kind (`express.transcribe`), so a lane can have workers of
its own too. A deployment-wide prefix (`MEDIAJOBS_QUEUE_PREFIX`) isolates deployments sharing a broker.
"""

from __future__ import annotations

from collections.abc import Callable

from .models import Lane

QueueFor = Callable[[str, str], str]
"""(lane, stage kind) -> broker queue name."""


def queue_name(kind: str, *, lane: str = Lane.STANDARD.value, prefix: str = "") -> str:
    base = kind if lane == Lane.STANDARD.value else f"{lane}.{kind}"
    return f"{prefix}{base}"


def queue_router(prefix: str = "") -> QueueFor:
    """`queue_for(lane, kind)` for queues named with `prefix`."""

    def queue_for(lane: str, kind: str) -> str:
        return queue_name(kind, lane=lane, prefix=prefix)

    return queue_for


__all__ = ["QueueFor", "queue_name", "queue_router"]
