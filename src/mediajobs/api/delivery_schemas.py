"""The response bodies of webhook deliveries, disabled endpoints and the signing secret."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from mediajobs.domain.deliveries import Delivery, DeliveryAttempt, DeliveryStatus, DisabledEndpoint


class DeliveryAttemptPublic(BaseModel):
    number: int = Field(description="1, 2, 3... per delivery.")
    started_at: datetime
    finished_at: datetime | None = Field(description="Null while it is in flight.")
    outcome: str | None = Field(
        description="`delivered` (2xx), `retry` (timeout, connection failure, 429, 5xx: tried again), "
        "`failed` (not tried again), `gone` (410: the endpoint is disabled), `lost` (the sender died "
        "before it recorded the answer); null while in flight."
    )
    status_code: int | None = Field(description="The receiver's HTTP status; null when it did not answer.")
    latency_seconds: float | None = Field(description="From the request's start to its answer or failure.")
    error: str | None = Field(description="Why it did not count as delivered.")


class DeliveryPublic(BaseModel):
    id: int
    hook: str = Field(description="`webhook` (a plug-in's durable hooks show here too).")
    event: str = Field(description="`job.finished` or `batch.finished`: the message's `type`.")
    url: str = Field(description="Where it goes.")
    webhook_id: str = Field(description="The `webhook-id` header: the same on every attempt and redelivery.")
    status: str = Field(
        description="`pending` (due now or at `next_attempt_at`), `delivered`, or `failed` (given up)."
    )
    job_id: uuid.UUID | None
    batch_id: uuid.UUID | None
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When it is tried next (pending only).")
    delivered_at: datetime | None
    last_error: str | None
    redelivery_of: int | None = Field(description="The delivery this manual redelivery copied.")
    attempts: list[DeliveryAttemptPublic]
    links: dict[str, str]


class DeliveryList(BaseModel):
    deliveries: list[DeliveryPublic] = Field(description="Oldest first.")


class DisabledEndpointPublic(BaseModel):
    id: str
    url: str
    disabled_at: datetime
    reason: str
    delivery_id: int | None = Field(description="The delivery that was answered 410 Gone.")
    links: dict[str, str]


class DisabledEndpointList(BaseModel):
    endpoints: list[DisabledEndpointPublic] = Field(
        description="Your endpoints whose receiver answered 410 Gone: nothing is sent to them (and a "
        "submit naming one is refused) until you enable them again."
    )


class WebhookSecretPublic(BaseModel):
    webhook_secret: str = Field(description="The new `whsec_` secret: messages are signed with it from now.")
    previous_valid_until: datetime | None = Field(
        description="Until then messages also carry a signature with the secret it replaced (24 hours); "
        "null when there was none."
    )


def attempt_public(attempt: DeliveryAttempt) -> DeliveryAttemptPublic:
    return DeliveryAttemptPublic(
        number=attempt.number,
        started_at=attempt.started_at,
        finished_at=attempt.finished_at,
        outcome=None if attempt.outcome is None else attempt.outcome.value,
        status_code=attempt.status_code,
        latency_seconds=None if attempt.latency_seconds is None else round(attempt.latency_seconds, 4),
        error=attempt.error,
    )


def delivery_public(delivery: Delivery) -> DeliveryPublic:
    subject = (
        f"/api/v1/jobs/{delivery.job_id}"
        if delivery.job_id is not None
        else f"/api/v1/batches/{delivery.batch_id}"
    )
    return DeliveryPublic(
        id=delivery.id,
        hook=delivery.hook,
        event=delivery.event,
        url=delivery.destination,
        webhook_id=delivery.message_id,
        status=delivery.status.value,
        job_id=delivery.job_id,
        batch_id=delivery.batch_id,
        created_at=delivery.created_at,
        next_attempt_at=delivery.next_attempt_at if delivery.status is DeliveryStatus.PENDING else None,
        delivered_at=delivery.delivered_at,
        last_error=delivery.last_error,
        redelivery_of=delivery.redelivery_of,
        attempts=[attempt_public(a) for a in delivery.history],
        links={"redeliver": f"{subject}/deliveries/{delivery.id}/redeliver"},
    )


def endpoint_public(endpoint: DisabledEndpoint) -> DisabledEndpointPublic:
    return DisabledEndpointPublic(
        id=endpoint.id,
        url=endpoint.destination,
        disabled_at=endpoint.disabled_at,
        reason=endpoint.reason,
        delivery_id=endpoint.delivery_id,
        links={"enable": f"/api/v1/me/webhook-endpoints/{endpoint.id}/enable"},
    )


__all__ = [
    "DeliveryList",
    "DeliveryPublic",
    "DisabledEndpointList",
    "DisabledEndpointPublic",
    "WebhookSecretPublic",
    "delivery_public",
    "endpoint_public",
]
