"""Live progress on real Redis and PostgreSQL: the channels, the process-wide feed, the replay/subscribe
race, a dropped feed connection, and the SSE endpoints over a real uvicorn server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from helpers.auth import new_key
from helpers.live_server import live_server
from helpers.processes import wait_for
from helpers.progress import run_job, run_stage, run_stages, sse_events, submit
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.domain import LOCAL_USER_ID
from mediajobs.domain.events import ProgressEvent
from mediajobs.engines import Engines
from mediajobs.progress import (
    FollowTimings,
    RedisEventBus,
    RedisLiveFeed,
    follow_job,
    job_channel,
    user_channel,
)
from mediajobs.progress.cursor import EventIds
from mediajobs.progress.feed import CLIENT_NAME
from mediajobs.progress.wiring import channel_prefix
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.store import JobStore
from mediajobs.wiring import Services, build_services

LIVE = FollowTimings(heartbeat=60, recheck=60, poll=60)  # only the live feed can deliver in time


@pytest.fixture
def services(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[Services]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=redis_url)
    built = build_services(settings, InMemoryPublisher(), engines=Engines())
    yield built
    built.close()


def feed_of(services: Services) -> RedisLiveFeed:
    feed = services.progress.feed
    assert isinstance(feed, RedisLiveFeed)
    return feed


def test_events_are_published_as_json_on_the_job_and_the_user_channel(
    services: Services, redis_url: str
) -> None:
    prefix = channel_prefix(services.settings, redis_url)  # the database number is part of it
    assert f"db{redis_url.rsplit('/', 1)[1]}:" in prefix
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    pubsub.psubscribe(f"{prefix}progress:*")
    wait_for(lambda: pubsub.get_message(timeout=0.05) is None and pubsub.subscribed, timeout=5)
    try:
        job = submit(services.store)
        messages: list[dict[str, Any]] = []

        def two_messages() -> bool:
            message = pubsub.get_message(timeout=0.1)
            if message is not None:
                messages.append(message)
            return len(messages) == 2

        wait_for(two_messages, timeout=5, message="the submit event on both channels")
    finally:
        pubsub.close()
        client.close()
    channels = {m["channel"].decode() for m in messages}
    assert channels == {job_channel(prefix, job.id), user_channel(prefix, LOCAL_USER_ID)}
    data = json.loads(messages[0]["data"])
    assert (data["seq"], data["status"], data["owner_id"]) == (1, "queued", LOCAL_USER_ID)
    assert (
        ProgressEvent.from_json(data, owner_id=LOCAL_USER_ID) == services.store.events.job_events(job.id)[0]
    )


class RacingLog:
    """The store, except that the follower's first read of the log returns what it read BEFORE more
    events were committed and published: the window between subscribing and replaying."""

    def __init__(self, store: JobStore, write: Callable[[], None]) -> None:
        self.store = store
        self.write = write
        self.raced = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store.events, name)

    def job_events(self, job_id: Any, *, after_seq: int = 0, limit: int = 1000) -> list[ProgressEvent]:
        stale = self.store.events.job_events(job_id, after_seq=after_seq, limit=limit)
        if not self.raced:
            self.raced = True
            self.write()  # committed and published after our read, before we look at the feed
        return stale


def test_events_committed_while_replaying_come_live_exactly_once(services: Services) -> None:
    store = services.store
    job = submit(store)
    racing = RacingLog(store, lambda: run_stage(store, job.id, "ingest"))

    async def main() -> list[ProgressEvent]:
        feed = feed_of(services)
        got: list[ProgressEvent] = []
        writer = None
        try:
            async for item in follow_job(racing, feed, job.id, timings=LIVE):
                assert item is not None
                got.append(item)
                if writer is None and item.stage == "ingest" and item.stage_status == "succeeded":
                    writer = asyncio.create_task(
                        asyncio.to_thread(run_stages, store, job.id, "normalize", "transcribe")
                    )
            assert writer is not None
            await writer
        finally:
            await feed.aclose()
        return got

    events = asyncio.run(asyncio.wait_for(main(), 30))
    assert racing.raced
    assert [e.seq for e in events] == [e.seq for e in store.events.job_events(job.id)]
    assert events[-1].final


def test_a_dropped_feed_connection_is_re_established_and_nothing_is_missed(
    services: Services, redis_url: str
) -> None:
    store = services.store
    job = submit(store)
    admin = redis.Redis.from_url(redis_url)

    def kill_feed_connection() -> None:
        ids = [c["id"] for c in admin.client_list() if c.get("name") == CLIENT_NAME]
        assert ids
        for client_id in ids:
            admin.client_kill_filter(_id=client_id)

    async def main() -> list[ProgressEvent]:
        feed = feed_of(services)
        got: list[ProgressEvent] = []
        writer = None
        try:
            async for item in follow_job(store.events, feed, job.id, timings=LIVE):
                assert item is not None
                got.append(item)
                if writer is None:
                    await asyncio.to_thread(kill_feed_connection)
                    writer = asyncio.create_task(asyncio.to_thread(run_job, store, job.id))
            assert writer is not None
            await writer
            assert feed.connects >= 2
        finally:
            await feed.aclose()
        return got

    try:
        events = asyncio.run(asyncio.wait_for(main(), 30))
    finally:
        admin.close()
    assert [e.seq for e in events] == [e.seq for e in store.events.job_events(job.id)]


class FakeRedis:
    def __init__(self) -> None:
        self.calls = 0

    def pipeline(self, transaction: bool = True) -> FakeRedis:
        self.calls += 1
        return self

    def publish(self, channel: str, payload: str) -> None:
        return None

    def execute(self) -> None:
        raise redis.ConnectionError("Redis is away")

    def reset(self) -> None:
        return None


def test_a_failing_publisher_stays_quiet_for_a_while_instead_of_stalling_every_report(
    services: Services,
) -> None:
    now = [100.0]
    bus = RedisEventBus("redis://127.0.0.1:1", quiet_after_failure=5.0, clock=lambda: now[0])
    started = time.monotonic()
    job = submit(services.store)
    event = services.store.events.job_events(job.id)[0]
    bus.publish([event])  # nobody listens on port 1: fails fast, raises nothing
    assert time.monotonic() - started < 3
    assert bus.skipped == 1
    fake, real = FakeRedis(), bus._redis
    bus._redis = fake  # type: ignore[assignment]
    bus.publish([event, event])
    assert (fake.calls, bus.skipped) == (0, 3)  # quiet period: not even tried
    now[0] += 6
    bus.publish([event])
    assert (fake.calls, bus.skipped) == (1, 4)
    bus._redis = real
    bus.close()


# -- over a real server --------------------------------------------------------------------------


def _reader(
    url: str,
    path: str,
    headers: dict[str, str],
    out: list[tuple[int, ProgressEvent]],
    first: threading.Event,
    stop: Callable[[list[tuple[int, ProgressEvent]]], bool],
) -> Callable[[], None]:
    def read() -> None:
        with (
            httpx.Client(base_url=url, timeout=30) as http,
            http.stream("GET", path, headers=headers) as response,
        ):
            assert response.status_code == 200, response.read()
            for item in sse_events(response):
                out.append(item)
                first.set()
                if stop(out):
                    return

    return read


def test_job_and_user_streams_over_http_with_redis(services: Services) -> None:
    services.progress.timings = LIVE
    store = services.store
    app = create_app(services.settings, services=services, maintenance=False)
    job = submit(store)
    start = store.events.job_events(job.id)[0].id
    shown = EventIds(store.users.event_key(job.owner_id))  # the user stream's ids (progress/cursor.py)
    auth = {"Authorization": f"Bearer {new_key(store)}"}
    with live_server(app) as url:
        job_stream: list[tuple[int, ProgressEvent]] = []
        user_stream: list[tuple[int, ProgressEvent]] = []
        connected = [threading.Event(), threading.Event()]
        errors: list[BaseException] = []
        readers = [
            _reader(url, f"/api/v1/jobs/{job.id}/events", auth, job_stream, connected[0], lambda got: False),
            _reader(
                url,
                "/api/v1/events",
                {**auth, "Last-Event-ID": str(shown.shown(start - 1))},
                user_stream,
                connected[1],
                lambda got: got[-1][1].final,
            ),
        ]

        def guarded(fn: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                try:
                    fn()
                except BaseException as exc:
                    errors.append(exc)

            return run

        threads = [threading.Thread(target=guarded(r), daemon=True) for r in readers]
        for thread in threads:
            thread.start()
        for event in connected:  # each stream replayed the submit event: it is subscribed
            assert event.wait(30)
        run_job(store, job.id)
        for thread in threads:
            thread.join(20)
            assert not thread.is_alive()
        feed = feed_of(services)
        wait_for(lambda: feed.subscribers == 0, timeout=10, message="subscriptions closed with the streams")

        # a client that walks away mid-stream (from a quiet job) is noticed without waiting for a heartbeat
        quiet = submit(store)
        with (
            httpx.Client(base_url=url, timeout=10, headers=auth) as http,
            http.stream("GET", f"/api/v1/jobs/{quiet.id}/events") as r,
        ):
            # Keep the iterator: a dropped one is closed at once (CPython), and closing it closes the
            # response and its connection, which is exactly the walk-away this part tests for next.
            events = sse_events(r)
            next(events)
            assert feed.subscribers == 1
        wait_for(lambda: feed.subscribers == 0, timeout=10, message="subscription closed on disconnect")
    assert not errors, errors
    log = store.events.job_events(job.id)
    assert [(i, e.seq) for i, e in job_stream] == [(e.seq, e.seq) for e in log]  # id = seq
    assert [(i, e.seq) for i, e in user_stream] == [(shown.shown(e.id), e.seq) for e in log]  # opaque ids
    assert feed_of(services).delivered >= 2 * (len(log) - 1)  # live, not from re-reading the log
