"""An in-process event bus for tests (and single-process setups): publish from any thread, follow on
an event loop. Implements both `EventPublisher` and `LiveFeed`."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Sequence

from mediajobs.domain.events import ProgressEvent

from .feed import Subscription


class InMemoryEventBus:
    """`down=True` drops every published event, as a Redis outage would (followers read the log)."""

    def __init__(self) -> None:
        self.down = False
        self.published: list[ProgressEvent] = []
        self._subs: dict[Subscription, asyncio.AbstractEventLoop] = {}
        self._lock = threading.Lock()

    # -- EventPublisher ---------------------------------------------------------------------

    def publish(self, events: Sequence[ProgressEvent]) -> None:
        if self.down:
            return
        with self._lock:
            self.published.extend(events)
            targets = list(self._subs.items())
        for sub, loop in targets:
            for event in events:
                if sub.matches(event) and not loop.is_closed():
                    loop.call_soon_threadsafe(sub.offer, event)

    def close(self) -> None:
        return None

    # -- LiveFeed ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return not self.down

    async def subscribe(
        self, *, job_id: uuid.UUID | None = None, owner_id: str | None = None
    ) -> Subscription:
        if (job_id is None) == (owner_id is None):
            raise ValueError("subscribe to one job or to one owner")
        sub = Subscription(self, job_id=job_id, owner_id=owner_id)
        with self._lock:
            self._subs[sub] = asyncio.get_running_loop()
        return sub

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subs.pop(subscription, None)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    async def aclose(self) -> None:
        with self._lock:
            subs, self._subs = list(self._subs), {}
        for sub in subs:
            sub.wake(closed=True)


__all__ = ["InMemoryEventBus"]
