"""Durable hooks: what must reach the outside world even when a process dies right after the commit
(webhooks). A durable hook says, inside the transaction that ends a job (or a batch), what it owes
(`deliveries`, `batch_deliveries`: quick and pure, no I/O); those deliveries are rows written in that
very transaction, and workers of the `hooks` queue send them (`deliver`), each attempt recorded, on
the hook's retry schedule (store/deliveries.py, queue/delivery.py).

Delivery is at least once: `deliver` may be called again for a message whose earlier attempt reached
its receiver (its sender died before recording the answer), so every message carries an id the
receiver can recognise, the same on every attempt (the Standard Webhooks `webhook-id`), and the very
same body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mediajobs.domain.deliveries import DeliveryOutcome
from mediajobs.domain.retry import RetryPolicy, RetryRule

from .base import BatchFinished, Hooks, JobFinished

if TYPE_CHECKING:
    from mediajobs.engines.http import OutboundHttp

JsonDict = dict[str, Any]

DEFAULT_RETRY = RetryPolicy(max_retries=8, base=5.0, cap=10 * 3600.0)
"""Up to 9 attempts over about a day (5 s, 10 s, ... capped at 10 h), with jitter."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Owed:
    """One delivery a hook owes for an ending: where it goes, and what it wants to remember."""

    destination: str  # a webhook's URL; a receiver that answers `gone` disables it for the owner
    payload: JsonDict = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class Outgoing:
    """One attempt at one delivery, as the sender hands it to its hook."""

    delivery_id: int
    attempt: int  # 1, 2, 3...
    event: str  # `job.finished` or `batch.finished`
    message_id: str  # the same on every attempt (Standard Webhooks `webhook-id`)
    destination: str
    payload: JsonDict
    body: bytes  # `{"type", "timestamp", "data": <the job's or batch's JSON>}`, the same bytes each time
    secrets: tuple[str, ...]  # the owner's signing secrets: the current one, then (during a rotation)
    # the previous one


@dataclass(frozen=True, kw_only=True, slots=True)
class Answer:
    """What one attempt came to."""

    outcome: DeliveryOutcome  # delivered, retry, failed, or gone (nothing more to this destination)
    status: int | None = None  # the receiver's HTTP status, when it answered
    error: str | None = None  # why it is not delivered
    retry_after: float | None = None  # seconds the receiver asked us to wait


class DurableHook(Hooks):
    """A hook whose actions are written with the state they report and delivered from their own queue.

    `name` must stay the same across deployments of the same hook (rows written by one version are
    delivered by the next); it is how a sender finds the hook of a stored delivery.
    """

    name: str = "durable"
    retry: RetryRule = DEFAULT_RETRY
    timeout_seconds: float = 30.0  # a sender holds a delivery twice this long before another may take it

    def deliveries(self, job: JobFinished) -> Sequence[Owed]:
        """What to deliver about this job's end (in its transaction: quick, no I/O). Default: none."""
        return ()

    def batch_deliveries(self, batch: BatchFinished) -> Sequence[Owed]:
        """What to deliver about this batch's end (in the transaction of its last item). Default: none."""
        return ()

    def deliver(self, message: Outgoing, http: OutboundHttp) -> Answer | None:
        """Send one attempt (in a worker of the `hooks` queue) through `http` (the address rules
        apply). Return its Answer (None: delivered); raising RetryableError (its `retry_after`
        honoured) or any unexpected error counts as `retry`, PermanentError as `failed`."""
        raise NotImplementedError


__all__ = ["DEFAULT_RETRY", "Answer", "DurableHook", "Outgoing", "Owed"]
