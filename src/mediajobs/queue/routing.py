"""Which broker queue a stage message goes to: a function of (lane, stage kind).

One queue per stage kind lets an operator give a stage kind its own workers (`-Q transcribe`).
Lanes (express / standard / batch) will prefix the kind; `standard` is the only lane today.
"""

from __future__ import annotations

from mediajobs.domain import StageKind

DEFAULT_LANE = "standard"
MAINTENANCE_QUEUE = "maintenance"


def queue_name(kind: str, *, lane: str = DEFAULT_LANE, prefix: str = "") -> str:
    base = kind if lane == DEFAULT_LANE else f"{lane}.{kind}"
    return f"{prefix}{base}"


def all_queues(prefix: str = "") -> list[str]:
    """Every queue a worker started without `-Q` consumes."""
    return [queue_name(kind, prefix=prefix) for kind in StageKind.ALL] + [f"{prefix}{MAINTENANCE_QUEUE}"]
