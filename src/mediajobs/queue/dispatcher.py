"""Publishing what the store wrote: right after the commit that wrote it (`settled`), and the relay
for whatever is left over (`dispatch_due`).

A message is marked sent only after the broker accepted it, so a broker outage delays work but
never loses it. Publishing twice is harmless: the runner's claim lets one delivery run a stage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from mediajobs.hooks import Hooks, MessagePublished
from mediajobs.store import JobStore, OutboxBatch, OutboxMessage
from mediajobs.store.tx import FollowUps

log = logging.getLogger(__name__)

T = TypeVar("T")


class Publisher(Protocol):
    """Hands one stage message to the broker; raises when the broker did not take it."""

    def publish(self, message: OutboxMessage) -> None: ...

    def publish_delivery(self, delivery_id: int) -> None:
        """Hand the message of a durable hook's delivery to the `hooks` queue."""
        ...

    def ping(self) -> None:
        """Raise when the broker cannot be reached."""
        ...

    def queue_sizes(self, queues: Iterable[str]) -> dict[str, int]:
        """How many messages wait in each of `queues` (not counting those workers hold)."""
        ...


class Dispatcher:
    def __init__(
        self, store: JobStore, publisher: Publisher, *, batch_size: int = 100, hooks: Hooks | None = None
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.batch_size = batch_size
        self.hooks = hooks or Hooks()

    def _published(self, message: OutboxMessage) -> None:
        self.hooks.message_published(
            MessagePublished(
                job_id=message.job_id,
                pipeline=message.pipeline,
                stage=message.stage,
                queue=message.queue,
                media_seconds=message.media_seconds,
            )
        )

    def dispatch_due(self, *, older_than: timedelta = timedelta(0)) -> int:
        """Publish every message due for at least `older_than` (the relay: those the process that wrote
        them has not published); stop at the first broker failure. Returns how many were sent."""
        total = 0
        while True:
            with self.store.outbox.outbox_batch(limit=self.batch_size, older_than=older_than) as batch:
                sent, failed = self._publish(batch)
            total += sent
            if failed or len(batch.messages) < self.batch_size:
                return total

    def settled(self, write: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`write(*args, **kwargs)` (a store write), then what its commits left to do: the one place
        that publishes after a commit and admits after a commit (see `settle`)."""
        work = FollowUps()
        try:
            with self.store.db.collecting() as work:
                return write(*args, **kwargs)
        finally:
            self.settle(work)

    def settle(self, work: FollowUps) -> None:
        """Publish the messages committed transactions wrote (due now), then admit the waiting stages
        of the users they named (whose commits may leave messages and users of their own: settled in
        turn). A failure is logged, never raised: the commit happened, and the relay and the
        maintenance tick find in the database whatever is left."""
        try:
            while not work.empty():
                if work.messages:
                    self.publish_now(work.messages)
                if work.deliveries:
                    self.publish_deliveries(work.deliveries)
                with self.store.db.collecting() as more:
                    for owner_id in sorted(work.waiting_for):
                        self.store.admission.admit_owner(owner_id)
                    for owner_id in sorted(work.admit_for - work.waiting_for):
                        self.store.admission.admit_if_waiting(owner_id)
                work = more
        except Exception:
            log.warning("publishing or admitting after a commit failed; the relay will", exc_info=True)

    def publish_deliveries(self, ids: Sequence[int]) -> int:
        """Publish durable hooks' deliveries and mark those the broker took as sent; on a broker
        failure the rest stay for the relay. Returns how many were sent."""
        sent: list[int] = []
        for delivery_id in ids:
            try:
                self.publisher.publish_delivery(delivery_id)
            except Exception as exc:
                log.warning("could not publish hook delivery %d: %s; the relay will", delivery_id, exc)
                break
            sent.append(delivery_id)
        self.store.deliveries.mark_sent(sent)
        return len(sent)

    def publish_now(self, messages: Sequence[OutboxMessage]) -> int:
        """Fast path, right after the commit that wrote `messages`: publish them as they are (no read
        back) and mark those the broker took as sent, in one statement. On a broker failure the rest
        stay unsent for the relay. Returns how many were sent."""
        sent: list[int] = []
        for message in messages:
            try:
                self.publisher.publish(message)
            except Exception as exc:
                log.warning(
                    "could not publish %s/%s to %s: %s; the relay will", message.job_id, message.stage,
                    message.queue, exc,
                )  # fmt: skip
                break
            sent.append(message.id)
            self._published(message)
        self.store.outbox.mark_sent(sent)
        return len(sent)

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
            self._published(message)
            sent += 1
        return sent, False
