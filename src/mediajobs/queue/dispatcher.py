"""The outbox relay: publishes messages the store wrote in the same transaction as the job state.

A message is marked sent only after the broker accepted it, so a broker outage delays work but
never loses it. Publishing twice is harmless: the runner's claim lets one delivery run a stage.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Protocol

from mediajobs.store import JobStore, OutboxBatch, OutboxMessage

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """Hands one stage message to the broker; raises when the broker did not take it."""

    def publish(self, message: OutboxMessage) -> None: ...

    def ping(self) -> None:
        """Raise when the broker cannot be reached."""
        ...

    def queue_sizes(self, queues: Iterable[str]) -> dict[str, int]:
        """How many messages wait in each of `queues` (not counting those workers hold)."""
        ...


class Dispatcher:
    def __init__(self, store: JobStore, publisher: Publisher, *, batch_size: int = 100) -> None:
        self.store = store
        self.publisher = publisher
        self.batch_size = batch_size

    def dispatch_due(self) -> int:
        """Publish every due message; stop at the first broker failure. Returns how many were sent."""
        total = 0
        while True:
            with self.store.outbox_batch(limit=self.batch_size) as batch:
                sent, failed = self._publish(batch)
            total += sent
            if failed or len(batch.messages) < self.batch_size:
                return total

    def publish_job(self, job_id: uuid.UUID) -> int:
        """Fast path after a commit: publish this job's due messages now (the relay catches failures)."""
        with self.store.outbox_batch(job_id=job_id) as batch:
            sent, _ = self._publish(batch)
        return sent

    def _publish(self, batch: OutboxBatch) -> tuple[int, bool]:
        sent = 0
        for message in batch.messages:
            try:
                self.publisher.publish(message)
            except Exception as exc:  # the broker is down or refused: leave the rest for later
                log.warning(
                    "could not publish %s/%s to %s: %s", message.job_id, message.stage, message.queue, exc
                )
                batch.mark_failed(message)
                return sent, True
            batch.mark_sent(message)
            sent += 1
        return sent, False
