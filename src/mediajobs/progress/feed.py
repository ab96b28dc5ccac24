"""Live delivery of progress events: the receiving side (API processes).

A `LiveFeed` hands events to `Subscription`s, one per follower (an SSE or WebSocket client). The
Redis feed keeps ONE pattern subscription per API process (`{prefix}progress:<job id>` for every
job) and routes each message to the subscriptions of its job and of its owner, so a thousand
followers cost one Redis connection, and registering a follower is a local, instant step: once the
feed is connected, a subscription registered before a follower reads the event log cannot miss an
event committed after that read (events are published after their commit).

What a subscription cannot promise is completeness: publishing is best effort, the connection to
Redis can drop, a slow client's queue can overflow. Each of those sets `lost`, and the follower
re-reads the database log (see follow.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Protocol, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mediajobs.domain.events import ProgressEvent

from .bus import decode, job_channel_pattern

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000
CLIENT_NAME = "mediajobs-progress-feed"  # shows in Redis' CLIENT LIST


class Subscription:
    """A follower's mailbox of live events (for one job, or for every job of one owner)."""

    def __init__(
        self, feed: LiveFeed, *, job_id: uuid.UUID | None, owner_id: str | None, maxsize: int = QUEUE_SIZE
    ) -> None:
        self.feed = feed
        self.job_id = job_id
        self.owner_id = owner_id
        self.lost = False  # events may have been missed since the follower last read the log
        self.closed = False
        self._queue: asyncio.Queue[ProgressEvent | None] = asyncio.Queue(maxsize=maxsize)

    @property
    def live(self) -> bool:
        """True while the feed is connected (events arrive as they are published)."""
        return not self.closed and self.feed.connected

    def matches(self, event: ProgressEvent) -> bool:
        if self.job_id is not None:
            return event.job_id == self.job_id
        return event.owner_id == self.owner_id

    def offer(self, event: ProgressEvent) -> None:
        """Called on the subscriber's event loop by the feed."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lost = True  # the follower reads the log instead

    def wake(self, *, lost: bool = False, closed: bool = False) -> None:
        """Makes a waiting `get` return None at once (the follower then looks at `lost` / `closed`)."""
        self.lost = self.lost or lost
        self.closed = self.closed or closed
        with contextlib.suppress(asyncio.QueueFull):  # a full queue wakes the follower anyway
            self._queue.put_nowait(None)

    async def get(self, timeout: float) -> ProgressEvent | None:
        """The next live event, or None after `timeout` seconds or a wake-up."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout=max(0.0, timeout))
        except TimeoutError:
            return None

    def close(self) -> None:
        self.closed = True
        self.feed.unsubscribe(self)


class LiveFeed(Protocol):
    """Where live events come from (Redis pub/sub, or in-process for tests)."""

    @property
    def connected(self) -> bool: ...

    async def subscribe(
        self, *, job_id: uuid.UUID | None = None, owner_id: str | None = None
    ) -> Subscription:
        """Register a follower; returns once events published from now on will reach it (if connected)."""
        ...

    def unsubscribe(self, subscription: Subscription) -> None: ...

    async def aclose(self) -> None: ...


class RedisLiveFeed:
    """One pattern subscription per process, fanned out to local subscriptions.

    Started lazily on the event loop of the first `subscribe` (the API's loop), reconnects with
    backoff, and tells every subscription it may have lost events whenever the connection drops or
    is re-established.
    """

    def __init__(self, url: str, *, prefix: str = "", connect_timeout: float = 2.0) -> None:
        self.url = url
        self.pattern = job_channel_pattern(prefix)
        self.connect_timeout = connect_timeout
        self._by_job: dict[uuid.UUID, set[Subscription]] = {}
        self._by_owner: dict[str, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected: asyncio.Event | None = None
        self.delivered = 0  # events handed to subscriptions
        self.connects = 0  # successful (re)subscriptions; more than one means the connection dropped

    @property
    def connected(self) -> bool:
        return self._connected is not None and self._connected.is_set()

    async def subscribe(
        self, *, job_id: uuid.UUID | None = None, owner_id: str | None = None
    ) -> Subscription:
        if (job_id is None) == (owner_id is None):
            raise ValueError("subscribe to one job or to one owner")
        await self._ensure_started()
        sub = Subscription(self, job_id=job_id, owner_id=owner_id)
        if job_id is not None:
            self._by_job.setdefault(job_id, set()).add(sub)
        elif owner_id is not None:
            self._by_owner.setdefault(owner_id, set()).add(sub)
        return sub

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription.job_id is not None:
            _discard(self._by_job, subscription.job_id, subscription)
        elif subscription.owner_id is not None:
            _discard(self._by_owner, subscription.owner_id, subscription)

    @property
    def subscribers(self) -> int:
        return sum(len(s) for s in self._by_job.values()) + sum(len(s) for s in self._by_owner.values())

    def _all(self) -> list[Subscription]:
        return [sub for index in (self._by_job, self._by_owner) for subs in index.values() for sub in subs]

    async def _ensure_started(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            if self._task is not None and self._loop is not loop:
                log.warning("progress feed moved to a new event loop; restarting it")
            self._loop = loop
            self._connected = asyncio.Event()
            self._task = loop.create_task(self._run(self._connected), name="mediajobs-progress-feed")
        connected = self._connected
        assert connected is not None
        if not connected.is_set():
            # Not connected (yet): followers still work, reading the log at the polling interval.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(connected.wait(), timeout=self.connect_timeout)

    async def _run(self, connected: asyncio.Event) -> None:
        client = aioredis.Redis.from_url(
            self.url,
            socket_connect_timeout=self.connect_timeout,
            client_name=CLIENT_NAME,
            # notice a Redis that hangs (not only one that hangs up) and reconnect
            health_check_interval=15,
            socket_keepalive=True,
        )
        backoff = 0.1
        try:
            while True:
                pubsub = client.pubsub()
                try:
                    await pubsub.psubscribe(self.pattern)
                    while True:
                        message = await pubsub.get_message(timeout=1.0)
                        if message is None:
                            continue
                        kind = message["type"]
                        if kind == "pmessage":
                            self._dispatch(message["data"])
                        elif kind == "psubscribe":
                            # (Re)subscribed: anything published while we were away is only in the log.
                            connected.set()
                            self.connects += 1
                            backoff = 0.1
                            self._wake_all(lost=True)
                except (RedisError, OSError) as exc:
                    if connected.is_set():
                        log.warning("lost the progress feed (%s); followers read the database meanwhile", exc)
                    connected.clear()
                    self._wake_all(lost=True)
                except Exception:  # a bug must not end live delivery for the life of the process
                    log.exception("progress feed failed; restarting it")
                    connected.clear()
                    self._wake_all(lost=True)
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
                await asyncio.sleep(backoff)  # reconnect backoff
                backoff = min(backoff * 2, 5.0)
        finally:
            connected.clear()
            with contextlib.suppress(Exception):
                await client.aclose()

    def _dispatch(self, payload: bytes | str) -> None:
        try:
            event = decode(payload)
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed progress message: %r", payload[:200])
            return
        for sub in (*self._by_job.get(event.job_id, ()), *self._by_owner.get(event.owner_id, ())):
            sub.offer(event)
            self.delivered += 1

    def _wake_all(self, *, lost: bool = False, closed: bool = False) -> None:
        for sub in self._all():
            sub.wake(lost=lost, closed=closed)

    async def aclose(self) -> None:
        """Stop the feed and end every follower's wait (call on the loop it runs on)."""
        task, self._task = self._task, None
        self._wake_all(closed=True)
        self._by_job.clear()
        self._by_owner.clear()
        if task is None or task.done():
            return
        if self._loop is not asyncio.get_running_loop():  # its loop is gone or elsewhere: just stop it
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(task.cancel)
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


K = TypeVar("K")


def _discard(index: dict[K, set[Subscription]], key: K, subscription: Subscription) -> None:
    subs = index.get(key)
    if subs is not None:
        subs.discard(subscription)
        if not subs:
            del index[key]


__all__ = ["CLIENT_NAME", "QUEUE_SIZE", "LiveFeed", "RedisLiveFeed", "Subscription"]
