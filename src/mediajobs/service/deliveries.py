"""Webhook deliveries a user acts on: redeliver one now; turn a disabled endpoint back on."""

from __future__ import annotations

import uuid

from mediajobs.domain.deliveries import Delivery, DisabledEndpoint
from mediajobs.errors import Conflict, NotFound
from mediajobs.store import Caller
from mediajobs.wiring import Services


def redeliver(
    services: Services,
    caller: Caller,
    delivery_id: int,
    *,
    job_id: uuid.UUID | None = None,
    batch_id: uuid.UUID | None = None,
) -> Delivery:
    """Send a delivery of the caller's job (or batch) again now, with the same `webhook-id` and body: a
    delivered or failed one as a new delivery, a pending one by making its next attempt due now.
    Conflict while its endpoint is disabled (enable it first) or a sender holds it."""
    store = services.store
    if job_id is not None:
        store.jobs.get_job(job_id, caller.scope)  # another user's: 404
    elif batch_id is not None:
        store.batches.get_batch(batch_id, caller.scope)
    else:
        raise NotFound(f"no delivery {delivery_id}")
    delivery = store.deliveries.get(delivery_id)
    if (job_id is not None and delivery.job_id != job_id) or (
        batch_id is not None and delivery.batch_id != batch_id
    ):
        raise NotFound(f"no delivery {delivery_id} of this {'job' if job_id else 'batch'}")
    disabled = store.endpoints.disabled(delivery.owner_id, delivery.hook, delivery.destination)
    if disabled is not None:
        raise Conflict(
            f"its endpoint is disabled since {disabled.disabled_at.isoformat(timespec='seconds')} (it "
            f"answered 410 Gone); enable it first: POST /api/v1/me/webhook-endpoints/{disabled.id}/enable",
            code="endpoint_disabled",
        )
    return services.dispatcher.settled(
        store.deliveries.redeliver, delivery_id, job_id=job_id, batch_id=batch_id
    )


def enable_endpoint(services: Services, caller: Caller, endpoint_id: str) -> DisabledEndpoint:
    """Deliver to a disabled endpoint again (the caller's own; an admin's: anybody's). Deliveries that
    failed meanwhile stay failed: redeliver them."""
    return services.store.endpoints.enable(endpoint_id, caller.scope)


__all__ = ["enable_endpoint", "redeliver"]
