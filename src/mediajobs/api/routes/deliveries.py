"""Webhook deliveries of a job or a batch: each with every attempt, and redelivery; and the webhooks
themselves, as the OpenAPI document's `webhooks` (what a `callback_url` receives)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Response

from mediajobs import service
from mediajobs.api.delivery_schemas import DeliveryList, DeliveryPublic, delivery_public
from mediajobs.api.deps import CurrentUser, JobId, ServicesDep
from mediajobs.api.routes.batches import parse_batch_id
from mediajobs.api.schemas import ErrorBody
from mediajobs.public import BatchFinishedMessage, JobFinishedMessage

router = APIRouter(prefix="/api/v1", tags=["deliveries"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No valid API key"},
    404: {"model": ErrorBody, "description": "No such job, batch or delivery"},
}
REDELIVER_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    409: {
        "model": ErrorBody,
        "description": "Its endpoint is disabled (`endpoint_disabled`: enable it first), or it is being "
        "sent right now (`delivery_in_flight`)",
    },
}
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The delivery's `id`.")]


@router.get("/jobs/{job_id}/deliveries", response_model=DeliveryList, responses=ERRORS)
def job_deliveries(job_id: JobId, services: ServicesDep, owner: CurrentUser) -> DeliveryList:
    """The webhooks the job's end owed (one per end: a retried job that ends again owes another), each
    with every attempt: status, latency, error."""
    services.store.jobs.get_job(job_id, owner.scope)
    return DeliveryList(deliveries=[delivery_public(d) for d in services.store.deliveries.of_job(job_id)])


@router.post(
    "/jobs/{job_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryPublic,
    responses=REDELIVER_ERRORS,
)
def redeliver_job_delivery(
    job_id: JobId, delivery_id: DeliveryId, services: ServicesDep, owner: CurrentUser
) -> DeliveryPublic:
    """Send it again now, with the same `webhook-id` and body: a delivered or failed one as a new
    delivery (its `redelivery_of` names this one), a pending one by trying it now."""
    return delivery_public(service.redeliver(services, owner, delivery_id, job_id=job_id))


@router.get("/batches/{batch_id}/deliveries", response_model=DeliveryList, responses=ERRORS)
def batch_deliveries(batch_id: str, services: ServicesDep, owner: CurrentUser) -> DeliveryList:
    """The webhooks the batch's end owed (not its items'), each with every attempt."""
    batch = services.store.batches.get_batch(parse_batch_id(batch_id), owner.scope)
    return DeliveryList(deliveries=[delivery_public(d) for d in services.store.deliveries.of_batch(batch.id)])


@router.post(
    "/batches/{batch_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryPublic,
    responses=REDELIVER_ERRORS,
)
def redeliver_batch_delivery(
    batch_id: str, delivery_id: DeliveryId, services: ServicesDep, owner: CurrentUser
) -> DeliveryPublic:
    """Send the batch's webhook again now (as for a job's)."""
    parsed = parse_batch_id(batch_id)
    return delivery_public(service.redeliver(services, owner, delivery_id, batch_id=parsed))


# -- what a callback_url receives (documented, never served) ------------------------------------------

webhooks = APIRouter(tags=["webhooks"])
RECEIVED = (
    "Any 2xx: taken. Answer within 15 s; 429 and 5xx are tried again (Retry-After honoured), 410 "
    "disables this URL for you, any other answer ends the delivery."
)
WebhookId = Annotated[str, Header(description="`msg_...`: the same on every attempt; process each once.")]
WebhookTimestamp = Annotated[str, Header(description="Seconds since the epoch of this attempt.")]
WebhookSignature = Annotated[
    str,
    Header(
        description='`v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">` under your '
        "`webhook_secret`; two, space-separated, for 24 h after a rotation (docs/webhooks.md)."
    ),
]


@webhooks.post("job.finished", response_class=Response, response_description=RECEIVED)
def job_finished(
    message: JobFinishedMessage,
    webhook_id: WebhookId,
    webhook_timestamp: WebhookTimestamp,
    webhook_signature: WebhookSignature,
) -> None:
    """POSTed to a job's `callback_url` when it ends (succeeded, failed or cancelled)."""


@webhooks.post("batch.finished", response_class=Response, response_description=RECEIVED)
def batch_finished(
    message: BatchFinishedMessage,
    webhook_id: WebhookId,
    webhook_timestamp: WebhookTimestamp,
    webhook_signature: WebhookSignature,
) -> None:
    """POSTed to a batch's `callback_url` when its last item ends."""


__all__ = ["router", "webhooks"]
