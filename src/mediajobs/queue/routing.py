"""Broker queues: the stage queues of (lane, stage kind) (see domain/routing.py) and maintenance."""

from __future__ import annotations

from collections.abc import Sequence

from mediajobs.domain import Lane, StageKind
from mediajobs.domain.routing import queue_name, queue_router

DEFAULT_LANE = Lane.STANDARD.value
MAINTENANCE_QUEUE = "maintenance"


def all_queues(prefix: str = "", lanes: Sequence[str] = (DEFAULT_LANE,)) -> list[str]:
    """Every queue a worker started without `-Q` consumes."""
    stage_queues = [queue_name(kind, lane=lane, prefix=prefix) for lane in lanes for kind in StageKind.all()]
    return [*stage_queues, f"{prefix}{MAINTENANCE_QUEUE}"]


__all__ = ["DEFAULT_LANE", "MAINTENANCE_QUEUE", "all_queues", "queue_name", "queue_router"]
