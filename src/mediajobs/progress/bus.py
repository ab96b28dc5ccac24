"""Live delivery of progress events: the publishing side (worker and API processes).

Every committed event is published as JSON on two Redis pub/sub channels, one for its job and one for
its owner. Channels are global to a Redis server (pub/sub ignores the database number), so their
names carry `MEDIAJOBS_QUEUE_PREFIX` like the queues do.

Publishing is best effort: the event log in the database is the record, and followers re-read it when
they see a gap or hear nothing for a while. So a publisher never slows a stage down for long: short
socket timeouts, no retries, and after a failure it stays quiet for a few seconds instead of paying
the timeout on every progress report while Redis is away.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from mediajobs.domain.events import ProgressEvent

log = logging.getLogger(__name__)

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class EventPublisher(Protocol):
    """Hands committed events to live followers (the store's `event_sink`)."""

    def publish(self, events: Sequence[ProgressEvent]) -> None: ...

    def close(self) -> None: ...


def job_channel(prefix: str, job_id: uuid.UUID | str) -> str:
    return f"{prefix}progress:{job_id}"


def user_channel(prefix: str, owner_id: str) -> str:
    return f"{prefix}progress:user:{owner_id}"


def job_channel_pattern(prefix: str) -> str:
    """A PSUBSCRIBE pattern matching every job channel of `prefix` and no user channel.

    Job ids are UUIDs, whose text starts with a hex digit; user channels continue with `user:`.
    """
    escaped = "".join(f"\\{c}" if c in "*?[]\\" else c for c in prefix)
    return f"{escaped}progress:[0-9a-f]*"


def encode(event: ProgressEvent) -> str:
    """The JSON published on the channels: the event as followers see it, plus its owner for routing."""
    return json.dumps({**event.to_json(), "owner_id": event.owner_id}, separators=(",", ":"))


def decode(payload: str | bytes) -> ProgressEvent:
    data: dict[str, Any] = json.loads(payload)
    return ProgressEvent.from_json(data, owner_id=str(data.get("owner_id", "")))


class RedisEventBus:
    """Publishes events on `{prefix}progress:{job_id}` and `{prefix}progress:user:{owner_id}`."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        timeout: float = 0.5,
        quiet_after_failure: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=30,
        )
        self._quiet_after_failure = quiet_after_failure
        self._clock = clock
        self._quiet_until = 0.0
        self._lock = threading.Lock()
        self.published = 0  # events handed to Redis
        self.skipped = 0  # events not published (Redis failing or in the quiet period after a failure)

    def publish(self, events: Sequence[ProgressEvent]) -> None:
        if not events:
            return
        now = self._clock()
        with self._lock:
            if now < self._quiet_until:
                self.skipped += len(events)
                return
        pipe = self._redis.pipeline(transaction=False)
        for event in events:
            payload = encode(event)
            pipe.publish(job_channel(self.prefix, event.job_id), payload)
            pipe.publish(user_channel(self.prefix, event.owner_id), payload)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            with self._lock:
                self._quiet_until = self._clock() + self._quiet_after_failure
                self.skipped += len(events)
            log.warning(
                "could not publish %d progress events (%s); followers will read them from the database, "
                "next try in %.0f s",
                len(events),
                exc,
                self._quiet_after_failure,
            )
            return
        finally:
            pipe.reset()
        with self._lock:
            self.published += len(events)

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self._redis.close()


__all__ = [
    "REDIS_SCHEMES",
    "EventPublisher",
    "RedisEventBus",
    "decode",
    "encode",
    "job_channel",
    "job_channel_pattern",
    "user_channel",
]
