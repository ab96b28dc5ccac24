"""Broker queue names: one per (lane, queue kind) (see domain/routing.py), and `maintenance`.

Which kinds exist is the registry's to say (registry.py: `Registry.queues`); this module only names.
"""

from __future__ import annotations

from mediajobs.domain import Lane
from mediajobs.domain.routing import queue_name, queue_router

DEFAULT_LANE = Lane.STANDARD.value
MAINTENANCE_QUEUE = "maintenance"
"""The queue of the periodic upkeep tasks (beat sends them; any worker serving it runs them)."""


HOOKS_QUEUE = "hooks"
"""The queue of durable hooks' deliveries (webhooks): a slow receiver never holds a media worker."""
SYSTEM_QUEUES = (MAINTENANCE_QUEUE, HOOKS_QUEUE)
"""The queues that carry no stage: every worker serves them unless told otherwise."""


def maintenance_queue(prefix: str = "") -> str:
    return f"{prefix}{MAINTENANCE_QUEUE}"


def hooks_queue(prefix: str = "") -> str:
    return f"{prefix}{HOOKS_QUEUE}"


__all__ = [
    "DEFAULT_LANE",
    "HOOKS_QUEUE",
    "MAINTENANCE_QUEUE",
    "SYSTEM_QUEUES",
    "hooks_queue",
    "maintenance_queue",
    "queue_name",
    "queue_router",
]
