"""Durable hooks: what must reach the outside world even when a process dies right after the commit
(webhooks). A durable hook says, inside the transaction that ends a job, what it will deliver
(`deliveries`: quick and pure, no I/O); those deliveries are rows written in that very transaction,
and workers of the `hooks` queue send them (`deliver`) with retries, each attempt recorded
(store/deliveries.py, hooks/sender.py). Delivery is at least once: `deliver` may be called again for
a delivery whose earlier attempt reached its receiver, so it should carry an id the receiver can
recognise (the Standard Webhooks `webhook-id`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mediajobs.domain import RetryPolicy

from .base import Hooks, JobFinished

JsonDict = dict[str, Any]

DEFAULT_RETRY = RetryPolicy(max_retries=8, base=5.0, cap=10 * 3600.0)
"""Up to 9 attempts over about a day (5 s, 10 s, ... capped at 10 h), with jitter."""


class DurableHook(Hooks):
    """A hook whose actions are written with the state they report and delivered from their own queue.

    `name` must stay the same across deployments of the same hook (rows written by one version are
    delivered by the next); it is how a sender finds the hook of a stored delivery.
    """

    name: str = "durable"
    retry: RetryPolicy = DEFAULT_RETRY
    timeout_seconds: float = 30.0  # a sender holds a delivery this long before another may take it

    def deliveries(self, job: JobFinished) -> Sequence[JsonDict]:
        """What to deliver about this job's end (in its transaction: quick, no I/O). Default: none."""
        return ()

    def deliver(self, payload: JsonDict, *, attempt: int, delivery_id: int) -> None:
        """Send one delivery (in a worker of the `hooks` queue). Raise RetryableError to try again
        later (honouring its `retry_after`), PermanentError to give up; return when it was taken."""
        raise NotImplementedError


__all__ = ["DEFAULT_RETRY", "DurableHook"]
