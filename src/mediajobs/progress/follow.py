"""Following events: replay the database log after a given point, then go live, without gaps or repeats.

The order of steps is what makes it safe:

1. subscribe to the live feed (events published from now on will reach us),
2. read the job's status, then replay the log after the client's last event,
3. deliver live events, skipping any the replay already gave (per-job `seq` is the de-duplication key),
   and re-read the log whenever a live event skips a `seq`, the feed says it may have lost some, or
   nothing arrived for `recheck` seconds (a publish is best effort: a lost final event must not leave a
   follower hanging).

With no live feed (embedded: no Redis) step 3 is just reading the log every `poll` seconds.

The followers yield `None` after `heartbeat` seconds without an event, so the transport can send a
keep-alive (an SSE comment).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from anyio import to_thread

from mediajobs.domain import JobStatus
from mediajobs.domain.events import ProgressEvent

from .feed import LiveFeed, Subscription

PAGE = 1000
T = TypeVar("T")


class EventLog(Protocol):
    """What following reads from the store (its event reads, `JobStore.events`, implement it)."""

    def job_status(self, job_id: uuid.UUID) -> JobStatus | None: ...

    def job_events(
        self, job_id: uuid.UUID, *, after_seq: int = 0, limit: int = 1000
    ) -> list[ProgressEvent]: ...

    def owner_events(self, owner_id: str, *, after_id: int = 0, limit: int = 1000) -> list[ProgressEvent]: ...

    def last_event_id(self, owner_id: str) -> int: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class FollowTimings:
    heartbeat: float = 15.0  # yield None (a keep-alive) after this long without an event
    recheck: float = 10.0  # read the log this often even while the live feed is connected
    poll: float = 0.25  # read the log this often without a live feed (embedded)


async def _call(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run a blocking store call in a worker thread (the store is synchronous SQLAlchemy)."""
    return await to_thread.run_sync(lambda: fn(*args, **kwargs))


async def _subscribe(
    feed: LiveFeed | None, *, job_id: uuid.UUID | None = None, owner_id: str | None = None
) -> Subscription | None:
    if feed is None:
        return None
    return await feed.subscribe(job_id=job_id, owner_id=owner_id)


class _Clock:
    """When to read the log and when to send a keep-alive."""

    def __init__(self, timings: FollowTimings, sub: Subscription | None) -> None:
        self.timings = timings
        self.sub = sub
        now = time.monotonic()
        self.quiet_since = now
        self.next_check = now + self.interval

    @property
    def interval(self) -> float:
        return self.timings.recheck if self.sub is not None and self.sub.live else self.timings.poll

    def wait(self) -> float:
        return max(0.0, min(self.next_check, self.quiet_since + self.timings.heartbeat) - time.monotonic())

    def check_due(self) -> bool:
        return time.monotonic() >= self.next_check

    def checked(self) -> None:
        self.next_check = time.monotonic() + self.interval

    def heartbeat_due(self) -> bool:
        return time.monotonic() - self.quiet_since >= self.timings.heartbeat

    def sent(self) -> None:
        self.quiet_since = time.monotonic()


async def _next_live(sub: Subscription | None, timeout: float) -> ProgressEvent | None:
    if sub is None:
        await asyncio.sleep(timeout)  # the polling interval of the embedded follow
        return None
    return await sub.get(timeout)


async def follow_job(
    log: EventLog,
    feed: LiveFeed | None,
    job_id: uuid.UUID,
    *,
    after_seq: int = 0,
    timings: FollowTimings = FollowTimings(),
) -> AsyncGenerator[ProgressEvent | None, None]:
    """A job's events with seq > after_seq, in order, each once; ends after the job's final event.

    Ends early (without a final event) when the job disappears or the live feed shuts down; a client
    then reconnects with the last seq it got.
    """
    sub = await _subscribe(feed, job_id=job_id)
    try:
        last = after_seq
        clock = _Clock(timings, sub)

        async def catch_up() -> tuple[list[ProgressEvent], bool]:
            """Events after `last` from the log, and whether the job has ended after them."""
            status = await _call(log.job_status, job_id)
            if status is None:
                return [], True
            events: list[ProgressEvent] = []
            while True:
                page = await _call(log.job_events, job_id, after_seq=events[-1].seq if events else last)
                events.extend(page)
                if len(page) < PAGE:
                    break
            ended = events[-1].final if events else status.terminal
            return events, ended

        events, ended = await catch_up()
        for event in events:
            yield event
            last = event.seq
        if ended:
            return
        clock.sent()
        clock.checked()
        while True:
            if sub is not None and sub.closed:
                return
            live = await _next_live(sub, clock.wait())
            if live is not None and live.seq <= last:
                continue  # already delivered by the replay
            if live is not None and live.seq == last + 1 and not (sub is not None and sub.lost):
                yield live
                last = live.seq
                clock.sent()
                if live.final:
                    return
                continue
            if live is not None or (sub is not None and sub.lost) or clock.check_due():
                if sub is not None:
                    sub.lost = False  # cleared before reading: a loss after this read is seen next time
                events, ended = await catch_up()
                clock.checked()
                for event in events:
                    yield event
                    last = event.seq
                if events:
                    clock.sent()
                if ended:
                    return
            if clock.heartbeat_due():
                yield None
                clock.sent()
    finally:
        if sub is not None:
            sub.close()


class _Seen:
    """The last seq delivered per job (bounded: the oldest jobs are forgotten first)."""

    def __init__(self, size: int = 10_000) -> None:
        self._last: OrderedDict[uuid.UUID, int] = OrderedDict()
        self._size = size

    def get(self, job_id: uuid.UUID) -> int | None:
        return self._last.get(job_id)

    def fresh(self, event: ProgressEvent) -> bool:
        last = self._last.get(event.job_id)
        return last is None or event.seq > last

    def mark(self, event: ProgressEvent) -> None:
        self._last[event.job_id] = event.seq
        self._last.move_to_end(event.job_id)
        while len(self._last) > self._size:
            self._last.popitem(last=False)


async def follow_owner(
    log: EventLog,
    feed: LiveFeed | None,
    owner_id: str,
    *,
    after_id: int | None = None,
    timings: FollowTimings = FollowTimings(),
) -> AsyncGenerator[ProgressEvent | None, None]:
    """Every event of one owner's jobs, in the order they arrive; never ends by itself.

    `after_id` (a global event id, the stream's `Last-Event-ID`) replays what came after it; None
    starts at the present. Each job's events come in seq order, each once.
    """
    sub = await _subscribe(feed, owner_id=owner_id)
    try:
        seen = _Seen()
        # Only reads of the log move this cursor: an event that was committed but never published
        # (a worker's Redis was away) is still found by the next read, however far live events got.
        cursor = after_id if after_id is not None else await _call(log.last_event_id, owner_id)
        clock = _Clock(timings, sub)

        async def log_page() -> tuple[list[ProgressEvent], bool]:
            """The next page of the log after the cursor: its unseen events, and whether more follow."""
            nonlocal cursor
            page = await _call(log.owner_events, owner_id, after_id=cursor, limit=PAGE)
            fresh = []
            for event in page:
                cursor = max(cursor, event.id)
                if seen.fresh(event):
                    seen.mark(event)
                    fresh.append(event)
            return fresh, len(page) >= PAGE

        async def job_gap(event: ProgressEvent, *, since_id: int | None = None) -> list[ProgressEvent]:
            """A live event skipped seqs of its job: take them (and it) from the job's log."""
            before = seen.get(event.job_id) or 0
            missed = await _call(log.job_events, event.job_id, after_seq=before)
            # For a job new to this stream (`since_id`): what was logged after the stream's cursor, and
            # the live event onwards (it may have been committed just before the cursor was read).
            fresh = [
                e
                for e in missed
                if seen.fresh(e) and (since_id is None or e.id > since_id or e.seq >= event.seq)
            ]
            for e in fresh:
                seen.mark(e)
            return fresh

        replaying = after_id is not None
        while replaying:  # page by page: an old Last-Event-ID never loads the whole history at once
            page, replaying = await log_page()
            for event in page:
                yield event
        clock.sent()
        clock.checked()
        while True:
            if sub is not None and sub.closed:
                return
            live = await _next_live(sub, clock.wait())
            batch: list[ProgressEvent] = []
            if live is not None and seen.fresh(live):
                previous = seen.get(live.job_id)
                if previous is None and live.seq > 1:
                    batch = await job_gap(live, since_id=cursor)  # a job new to this stream
                elif previous is not None and live.seq > previous + 1:
                    batch = await job_gap(live)
                else:
                    seen.mark(live)
                    batch = [live]
            for event in batch:
                yield event
            sent = bool(batch)
            if (sub is not None and sub.lost) or clock.check_due():
                if sub is not None:
                    sub.lost = False
                more = True
                while more:
                    page, more = await log_page()
                    for event in page:
                        yield event
                    sent = sent or bool(page)
                clock.checked()
            if sent:
                clock.sent()
            elif clock.heartbeat_due():
                yield None
                clock.sent()
    finally:
        if sub is not None:
            sub.close()


__all__ = ["EventLog", "FollowTimings", "follow_job", "follow_owner"]
