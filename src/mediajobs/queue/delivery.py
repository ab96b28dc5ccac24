"""Sending durable hooks' deliveries (webhooks): the task of the `hooks` queue.

A sender leases the delivery (so two copies of its message do not send it at once), asks its hook to
deliver it, and records the outcome: delivered; due again after the hook's retry policy's backoff
(a RetryableError, honouring its `retry_after`; any unexpected error counts as one); or given up (a
PermanentError, or out of retries). A sender that dies mid-delivery leaves a lease that runs out, and
the relay publishes the delivery again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from mediajobs.errors import PermanentError, RetryableError
from mediajobs.hooks.durable import DurableHook
from mediajobs.store import JobStore

log = logging.getLogger(__name__)

UNKNOWN_HOOK_DELAY = 60.0
"""A delivery of a hook this worker does not have (its plug-in is not loaded here) waits this long."""


class DeliverySender:
    def __init__(self, store: JobStore, hooks: Sequence[DurableHook]) -> None:
        self.store = store
        self.hooks = {hook.name: hook for hook in hooks}
        self.hold = timedelta(seconds=max([60.0, *(2 * h.timeout_seconds for h in hooks)]))

    def send(self, delivery_id: int) -> str:
        """Deliver one delivery now; what became of it (delivered, retry, failed, skipped)."""
        deliveries = self.store.deliveries
        delivery = deliveries.take(delivery_id, hold=self.hold)
        if delivery is None:
            return "skipped"  # delivered, given up, not due yet, or another sender holds it
        hook = self.hooks.get(delivery.hook)
        if hook is None:
            deliveries.retry_later(
                delivery, delay=UNKNOWN_HOOK_DELAY, error=f"no hook named {delivery.hook!r} in this worker"
            )
            return "retry"
        try:
            hook.deliver(delivery.payload, attempt=delivery.attempts, delivery_id=delivery.id)
        except PermanentError as exc:
            deliveries.give_up(delivery, error=f"{exc.code}: {exc.message}")
            log.warning("hook %s gave up delivery %d: %s", hook.name, delivery.id, exc)
            return "failed"
        except Exception as exc:
            retry_after = exc.retry_after if isinstance(exc, RetryableError) else None
            decision = hook.retry.decide(attempt=delivery.attempts, retryable=True, retry_after=retry_after)
            error = f"{type(exc).__name__}: {exc}"
            if not decision.retry:
                deliveries.give_up(delivery, error=f"{error} (gave up after {delivery.attempts} attempts)")
                log.warning("hook %s gave up delivery %d: %s", hook.name, delivery.id, error)
                return "failed"
            deliveries.retry_later(delivery, delay=decision.delay, error=error)
            return "retry"
        deliveries.delivered(delivery)
        return "delivered"


__all__ = ["DeliverySender"]
