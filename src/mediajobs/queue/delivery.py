"""Sending durable hooks' deliveries (webhooks): the task of the `hooks` queue.

A sender leases the delivery (so two copies of its message do not send it at once; the attempt's
record opens), makes its message the first time (the ended job's or batch's JSON, kept for every later
attempt: a retry sends the very same bytes under the same `webhook-id`), signs it with the owner's
secrets, asks its hook to deliver it through the outbound HTTP port, and records the answer: delivered;
due again on the hook's schedule (a retry, at least the receiver's Retry-After); given up; or given up
with the endpoint disabled for its owner (410). Nothing is sent to a disabled endpoint. A sender that
dies mid-delivery leaves a lease that runs out (or a worker taken for dead: store `release_dead`), and
the relay publishes the delivery again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import timedelta

from mediajobs.domain import BatchStatus
from mediajobs.domain.deliveries import Delivery, DeliveryOutcome, DeliveryStatus
from mediajobs.domain.retry import RetrySchedule
from mediajobs.engines.http import OutboundHttp
from mediajobs.errors import PermanentError, RetryableError
from mediajobs.hooks.durable import Answer, DurableHook, Outgoing
from mediajobs.progress.cursor import EventIds
from mediajobs.public import batch_message, batch_public, job_message, job_public
from mediajobs.store import JobStore, Settlement

log = logging.getLogger(__name__)

UNKNOWN_HOOK_RETRY = RetrySchedule()
"""A delivery of a hook this worker does not have (its plug-in is not loaded here) is tried again on
the Standard Webhooks schedule (another worker may have it), then given up: never forever."""


class DeliverySender:
    def __init__(
        self, store: JobStore, hooks: Sequence[DurableHook], http: OutboundHttp, *, worker: str | None = None
    ) -> None:
        self.store = store
        self.hooks = {hook.name: hook for hook in hooks}
        self.http = http
        self.worker = worker
        self.hold = timedelta(seconds=max([60.0, *(2 * h.timeout_seconds for h in hooks)]))

    def send(self, delivery_id: int) -> str:
        """Try one delivery now; what its attempt came to (a DeliveryOutcome value), or `skipped`."""
        deliveries = self.store.deliveries
        delivery = deliveries.take(delivery_id, hold=self.hold, worker=self.worker)
        if delivery is None:
            return "skipped"  # delivered, given up, not due yet, or another sender holds it
        settled = self._attempt(delivery)
        if not deliveries.settle(delivery, settled):
            log.warning(
                "delivery %d was taken again while this attempt ran; its answer is not kept", delivery.id
            )
            return "skipped"
        if settled.status is DeliveryStatus.FAILED:
            log.warning(
                "delivery %d to %s failed: %s", delivery.id, delivery.destination[:200], settled.error
            )
        return settled.outcome.value

    def _attempt(self, delivery: Delivery) -> Settlement:
        hook = self.hooks.get(delivery.hook)
        if hook is None:
            error = f"no hook named {delivery.hook!r} in this worker"
            decision = UNKNOWN_HOOK_RETRY.decide(attempt=delivery.attempts, retryable=True)
            if not decision.retry:
                return Settlement(outcome=DeliveryOutcome.FAILED, status=DeliveryStatus.FAILED, error=error)
            return Settlement(
                outcome=DeliveryOutcome.RETRY,
                status=DeliveryStatus.PENDING,
                retry_in=decision.delay,
                error=error,
            )
        disabled = self.store.endpoints.disabled(delivery.owner_id, delivery.hook, delivery.destination)
        if disabled is not None:
            return Settlement(
                outcome=DeliveryOutcome.FAILED,
                status=DeliveryStatus.FAILED,
                error=f"endpoint_disabled: not sent, the endpoint is disabled since "
                f"{disabled.disabled_at.isoformat(timespec='seconds')} ({disabled.reason[:300]}); its owner "
                f"can enable it again (POST /api/v1/me/webhook-endpoints/{disabled.id}/enable)",
            )
        body = delivery.body or self._message(delivery)
        if body is None:
            return Settlement(
                outcome=DeliveryOutcome.FAILED,
                status=DeliveryStatus.FAILED,
                error="superseded: it runs again (a retry) before this was sent; its next end is delivered",
            )
        message = Outgoing(
            delivery_id=delivery.id,
            attempt=delivery.attempts,
            event=delivery.event,
            message_id=delivery.message_id,
            destination=delivery.destination,
            payload=delivery.payload,
            body=body,
            secrets=self.store.users.signing_secrets(delivery.owner_id),
        )
        started = time.monotonic()
        answer = _ask(hook, message, self.http)
        latency = time.monotonic() - started
        return _settlement(hook, delivery, answer, latency, body)

    def _message(self, delivery: Delivery) -> bytes | None:
        """The message about the delivery's job (as GET /api/v1/jobs/{id} answers it now) or batch (as
        GET /api/v1/batches lists it); None when it is open again."""
        store = self.store
        if delivery.job_id is not None:
            job = store.jobs.get_job(delivery.job_id)
            if not job.status.terminal or job.finished_at is None:
                return None
            latest = store.events.latest_event(job.id)
            if latest is not None:  # its id as the owner's streams show it (progress/cursor.py)
                latest = EventIds(store.users.event_key(job.owner_id)).event(latest)
            document = job_public(job, store.jobs.list_attempts(job.id), latest_event=latest)
            return job_message(document, job.finished_at)
        if delivery.batch_id is not None:
            batch = store.batches.get_batch(delivery.batch_id)
            if batch.status is BatchStatus.RUNNING or batch.finished_at is None:
                return None
            return batch_message(batch_public(batch), batch.finished_at)
        return None


def _ask(hook: DurableHook, message: Outgoing, http: OutboundHttp) -> Answer:
    """The hook's answer; what it raises is an answer too (it must never lose the delivery)."""
    try:
        return hook.deliver(message, http) or Answer(outcome=DeliveryOutcome.DELIVERED)
    except PermanentError as exc:
        return Answer(outcome=DeliveryOutcome.FAILED, error=f"{exc.code}: {exc.message}")
    except RetryableError as exc:
        return Answer(
            outcome=DeliveryOutcome.RETRY, error=f"{exc.code}: {exc.message}", retry_after=exc.retry_after
        )
    except Exception as exc:
        log.warning("hook %s raised while delivering %d", hook.name, message.delivery_id, exc_info=True)
        return Answer(outcome=DeliveryOutcome.RETRY, error=f"{type(exc).__name__}: {exc}")


def _settlement(
    hook: DurableHook, delivery: Delivery, answer: Answer, latency: float, body: bytes
) -> Settlement:
    """What the answer makes of the delivery, on the hook's schedule."""
    outcome, status, retry_in, error = answer.outcome, DeliveryStatus.FAILED, None, answer.error
    if outcome is DeliveryOutcome.DELIVERED:
        status = DeliveryStatus.DELIVERED
    elif outcome is DeliveryOutcome.RETRY:
        decision = hook.retry.decide(
            attempt=delivery.attempts, retryable=True, retry_after=answer.retry_after
        )
        if decision.retry:
            status, retry_in = DeliveryStatus.PENDING, decision.delay
        else:
            outcome, error = DeliveryOutcome.FAILED, f"{error} (gave up after {delivery.attempts} attempts)"
    elif outcome is not DeliveryOutcome.GONE:
        outcome = DeliveryOutcome.FAILED
    return Settlement(
        outcome=outcome,
        status=status,
        retry_in=retry_in,
        status_code=answer.status,
        latency_seconds=latency,
        error=error,
        body=body,
    )


__all__ = ["UNKNOWN_HOOK_RETRY", "DeliverySender"]
