"""Deliveries of durable hooks (webhooks): what a job's or a batch's end owes a receiver, each attempt
to send it, and the endpoints a receiver turned off. Records only; the store keeps them
(store/deliveries.py) and the hooks queue's sender makes them (queue/delivery.py)."""

from __future__ import annotations

import enum
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # due now, or at `next_attempt_at` after a failed attempt
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # given up: an answer not worth repeating, the last attempt failed, or its
    # endpoint is disabled (410), its address not allowed, or its job ran again before it was sent


class DeliveryOutcome(enum.StrEnum):
    """What became of one attempt."""

    DELIVERED = "delivered"  # a 2xx answer
    RETRY = "retry"  # a timeout, a connection failure, 429 or 5xx: tried again on the schedule
    FAILED = "failed"  # not tried again: any other answer, a refused address, or no attempt left
    GONE = "gone"  # 410 Gone: the receiver wants no more; its endpoint is disabled for its owner
    LOST = "lost"  # the sender died (or outlived its hold) before it could record the answer


JOB_FINISHED = "job.finished"
BATCH_FINISHED = "batch.finished"
"""The event types: a delivery's `event`, and its message's `type` (Standard Webhooks naming)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliveryAttempt:
    """One try at sending a delivery."""

    number: int  # 1, 2, 3... per delivery
    started_at: datetime
    worker: str | None = None  # the process that sent it
    finished_at: datetime | None = None  # None: in flight
    outcome: DeliveryOutcome | None = None  # None: in flight
    status_code: int | None = None  # the receiver's HTTP status, when it answered
    latency_seconds: float | None = None  # from the request's start to its answer (or failure)
    error: str | None = None  # why it did not count as delivered


@dataclass(frozen=True, kw_only=True, slots=True)
class Delivery:
    """One message a durable hook owes one destination about one job's (or batch's) end."""

    id: int
    hook: str  # the durable hook's name (`webhook`)
    event: str  # JOB_FINISHED or BATCH_FINISHED
    owner_id: str
    destination: str  # where it goes (a webhook: its URL)
    message_id: str  # the Standard Webhooks `webhook-id`: the same on every attempt and redelivery
    status: DeliveryStatus
    attempts: int  # tries so far (the history has one record each)
    next_attempt_at: datetime  # when it is (or was) due
    created_at: datetime
    job_id: uuid.UUID | None = None  # what it is about: a job...
    batch_id: uuid.UUID | None = None  # ... or a batch
    payload: dict[str, Any] = field(default_factory=dict)  # what the hook said at the end, for itself
    body: bytes | None = None  # the message, rendered at the first attempt and kept for every later one
    delivered_at: datetime | None = None
    last_error: str | None = None
    redelivery_of: int | None = None  # the delivery a manual redelivery copied
    history: tuple[DeliveryAttempt, ...] = ()  # filled by the reads that ask for it

    @property
    def last_status(self) -> int | None:
        """The last HTTP status a receiver answered, if any."""
        return next((a.status_code for a in reversed(self.history) if a.status_code is not None), None)


@dataclass(frozen=True, kw_only=True, slots=True)
class DisabledEndpoint:
    """A destination its receiver turned off (410 Gone) for one user: nothing more is sent there
    (submits naming it are refused) until its owner enables it again."""

    id: str
    owner_id: str
    hook: str
    destination: str
    disabled_at: datetime
    reason: str
    delivery_id: int | None = None  # the delivery that was answered 410


def destination_key(destination: str) -> str:
    """What a destination is looked up by (a URL may be longer than an index entry may hold)."""
    return hashlib.sha256(destination.encode("utf-8")).hexdigest()


__all__ = [
    "BATCH_FINISHED",
    "JOB_FINISHED",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryOutcome",
    "DeliveryStatus",
    "DisabledEndpoint",
    "destination_key",
]
