"""An in-memory broker for unit tests: collects published stage messages and drains them through a runner."""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mediajobs.store import OutboxMessage


class BrokerDown(ConnectionError):
    """Raised by InMemoryPublisher.publish while `down` is set (simulates a broker outage)."""


@dataclass(kw_only=True)
class InMemoryPublisher:
    """Implements the dispatcher's Publisher port with a list; `down=True` makes every publish fail."""

    down: bool = False
    messages: deque[OutboxMessage] = field(default_factory=deque)
    published: list[OutboxMessage] = field(default_factory=list)
    deliveries: deque[int] = field(default_factory=deque)  # hook deliveries' ids, in the hooks queue

    def publish(self, message: OutboxMessage) -> None:
        if self.down:
            raise BrokerDown("in-memory broker is down")
        self.messages.append(message)
        self.published.append(message)

    def publish_delivery(self, delivery_id: int) -> None:
        if self.down:
            raise BrokerDown("in-memory broker is down")
        self.deliveries.append(delivery_id)

    def ping(self) -> None:
        if self.down:
            raise BrokerDown("in-memory broker is down")

    def queue_sizes(self, queues: Iterable[str]) -> dict[str, int]:
        if self.down:
            raise BrokerDown("in-memory broker is down")
        wanted = set(queues)
        sizes = dict.fromkeys(wanted, 0)
        for message in self.messages:
            if message.queue in wanted:
                sizes[message.queue] += 1
        return sizes

    def lose(self, count: int = 1) -> list[OutboxMessage]:
        """Drop the `count` newest waiting messages, as a broker that restarted without them would."""
        return [self.messages.pop() for _ in range(min(count, len(self.messages)))]

    def queues(self) -> list[str]:
        return [m.queue for m in self.messages]

    def deliver(self, run: Callable[[uuid.UUID, str], object], count: int = 1) -> int:
        """Deliver at most `count` queued messages, oldest first; returns how many were delivered."""
        delivered = 0
        while self.messages and delivered < count:
            message = self.messages.popleft()
            run(message.job_id, message.stage)
            delivered += 1
        return delivered

    def drain(self, run: Callable[[uuid.UUID, str], object], *, limit: int = 1000) -> int:
        """Deliver queued messages one by one (as a worker would) until none are left."""
        delivered = 0
        while self.messages:
            if delivered >= limit:
                raise RuntimeError(f"drain did not settle after {limit} deliveries")
            message = self.messages.popleft()
            run(message.job_id, message.stage)
            delivered += 1
        return delivered
