"""Following progress events on SQLite with the in-memory bus: replay, live, de-duplication, gaps,
lost publishes, the embedded (log-polling) follow, the per-user stream, and the SSE wire format."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from helpers.progress import claim, run_job, run_stage, run_stages, submit
from mediajobs.client import SseParser
from mediajobs.domain import LOCAL_USER_ID, ErrorInfo
from mediajobs.domain.events import EventType, ProgressEvent
from mediajobs.pipelines import shipped_pipelines
from mediajobs.progress import FollowTimings, InMemoryEventBus, follow_job, follow_owner
from mediajobs.progress.feed import Subscription
from mediajobs.progress.sse import HEARTBEAT, encode_event, encode_retry
from mediajobs.store import JobStore, create_db_engine
from mediajobs.store.tables import UserRow

# recheck is long: what arrives must come through the live feed unless a test says otherwise
LIVE = FollowTimings(heartbeat=60, recheck=60, poll=60)


@pytest.fixture
def bus() -> InMemoryEventBus:
    return InMemoryEventBus()


@pytest.fixture
def store(sqlite_url: str, bus: InMemoryEventBus) -> Iterator[JobStore]:
    engine = create_db_engine(sqlite_url)
    yield JobStore(engine, event_sink=bus.publish, pipelines=shipped_pipelines(noop=True))
    engine.dispose()


Item = ProgressEvent | None


async def collect(
    stream: AsyncGenerator[Item, None],
    *,
    on_item: Callable[[Item], object] | None = None,
    timeout: float = 20,
) -> list[ProgressEvent]:
    """Every event until the stream ends (keep-alives dropped), within `timeout` seconds."""
    got: list[ProgressEvent] = []

    async def run() -> None:
        async for item in stream:
            if item is not None:
                got.append(item)
            if on_item is not None:
                on_item(item)

    try:
        await asyncio.wait_for(run(), timeout)
    finally:
        await stream.aclose()
    return got


def in_thread(fn: Callable[[], object]) -> asyncio.Task[object]:
    """Run store writes in a thread, as a worker process would, while the follower runs."""
    return asyncio.get_running_loop().create_task(asyncio.to_thread(fn))


def assert_complete(events: list[ProgressEvent], log: list[ProgressEvent]) -> None:
    assert [e.seq for e in events] == [e.seq for e in log] == list(range(1, len(log) + 1))
    assert events[-1].final
    assert events[-1].status == "succeeded"


# -- follow_job ----------------------------------------------------------------------------------


def test_replays_the_log_then_follows_live_each_event_once(store: JobStore, bus: InMemoryEventBus) -> None:
    job = submit(store)
    run_stage(store, job.id, "ingest")  # before anyone follows: only in the log
    replayed = len(store.events.job_events(job.id))

    async def main() -> list[ProgressEvent]:
        tasks: list[asyncio.Task[object]] = []

        def start_rest(item: Item) -> None:
            if item is not None and item.seq == replayed:
                tasks.append(in_thread(lambda: run_stages(store, job.id, "normalize", "transcribe")))

        events = await collect(follow_job(store.events, bus, job.id, timings=LIVE), on_item=start_rest)
        await asyncio.gather(*tasks)
        return events

    events = asyncio.run(main())
    assert_complete(events, store.events.job_events(job.id))
    assert {e.stage for e in events} >= {"ingest", "normalize", "transcribe"}
    percents = [e.job_percent for e in events]
    assert percents == sorted(percents)
    assert percents[-1] == 100
    assert bus.subscribers == 0  # the subscription was closed with the stream


def test_resumes_after_a_seq_and_ends_at_once_for_a_finished_job(
    store: JobStore, bus: InMemoryEventBus
) -> None:
    job = submit(store)
    run_job(store, job.id)
    log = store.events.job_events(job.id)

    assert [
        e.seq for e in asyncio.run(collect(follow_job(store.events, bus, job.id, after_seq=5, timings=LIVE)))
    ] == [e.seq for e in log[5:]]
    assert (
        asyncio.run(collect(follow_job(store.events, bus, job.id, after_seq=log[-1].seq, timings=LIVE))) == []
    )


def test_duplicates_are_dropped_and_a_gap_is_filled_from_the_log(
    store: JobStore, bus: InMemoryEventBus
) -> None:
    job = submit(store)

    async def main() -> list[ProgressEvent]:
        async def write() -> None:
            await asyncio.to_thread(run_stage, store, job.id, "ingest")
            bus.publish(store.events.job_events(job.id)[:3])  # re-delivered duplicates
            bus.down = True  # the next events are lost in transit...
            await asyncio.to_thread(run_stage, store, job.id, "normalize", (50.0,))
            bus.down = False  # ...and the first one after them shows the gap
            await asyncio.to_thread(run_stage, store, job.id, "transcribe")

        writer: list[asyncio.Task[None]] = []

        def start(item: Item) -> None:
            if not writer:
                writer.append(asyncio.get_running_loop().create_task(write()))

        events = await collect(follow_job(store.events, bus, job.id, timings=LIVE), on_item=start)
        await asyncio.gather(*writer)
        return events

    assert_complete(asyncio.run(main()), store.events.job_events(job.id))


def test_a_lost_final_event_is_found_in_the_log(store: JobStore, bus: InMemoryEventBus) -> None:
    job = submit(store)
    bus.down = True  # nothing is published: the follower must notice the end by re-reading the log

    async def main() -> list[ProgressEvent]:
        writer = in_thread(lambda: run_job(store, job.id))
        events = await collect(
            follow_job(
                store.events, bus, job.id, timings=FollowTimings(heartbeat=60, recheck=0.05, poll=0.05)
            )
        )
        await writer
        return events

    assert_complete(asyncio.run(main()), store.events.job_events(job.id))


def test_without_a_live_feed_the_log_is_polled(store: JobStore) -> None:
    job = submit(store)

    async def main() -> list[ProgressEvent]:
        writer = in_thread(lambda: run_job(store, job.id))
        events = await collect(follow_job(store.events, None, job.id, timings=FollowTimings(poll=0.02)))
        await writer
        return events

    assert_complete(asyncio.run(main()), store.events.job_events(job.id))


def test_a_quiet_job_yields_keep_alives(store: JobStore, bus: InMemoryEventBus) -> None:
    job = submit(store)
    first_seq = store.events.job_events(job.id)[-1].seq

    async def main() -> list[Item]:
        items: list[Item] = []
        stream = follow_job(
            store.events, bus, job.id, timings=FollowTimings(heartbeat=0.05, recheck=60, poll=60)
        )
        try:
            async for item in stream:
                items.append(item)
                if item is None:
                    return items
        finally:
            await stream.aclose()
        return items

    items = asyncio.run(asyncio.wait_for(main(), 10))
    assert [i.seq if i else None for i in items] == [*range(1, first_seq + 1), None]


def test_a_job_retried_after_it_ended_is_followed_past_its_first_end(
    store: JobStore, bus: InMemoryEventBus
) -> None:
    job = submit(store)
    c = claim(store, job.id, "ingest")
    store.stages.fail_attempt(c, ErrorInfo(code="download_failed", message="gone"), retry_delay=None)
    ended = store.events.job_events(job.id)[-1]
    assert ended.final
    assert ended.status == "failed"
    assert (
        asyncio.run(collect(follow_job(store.events, bus, job.id, after_seq=ended.seq, timings=LIVE))) == []
    )
    store.jobs.retry_job(job.id)

    async def main() -> list[ProgressEvent]:
        writer: list[asyncio.Task[object]] = []

        def start(item: Item) -> None:
            if not writer:
                writer.append(in_thread(lambda: run_job(store, job.id)))

        events = await collect(follow_job(store.events, bus, job.id, timings=LIVE), on_item=start)
        await asyncio.gather(*writer)
        return events

    events = asyncio.run(main())
    assert_complete(events, store.events.job_events(job.id))
    assert [e.status for e in events if e.final] == ["failed", "succeeded"]


def test_an_unknown_job_ends_the_follow(store: JobStore, bus: InMemoryEventBus) -> None:
    assert asyncio.run(collect(follow_job(store.events, bus, uuid.uuid4(), timings=LIVE))) == []


def test_closing_the_feed_ends_followers(store: JobStore, bus: InMemoryEventBus) -> None:
    job = submit(store)

    async def main() -> list[ProgressEvent]:
        def close_after_replay(item: Item) -> None:
            asyncio.get_running_loop().create_task(bus.aclose())

        return await collect(follow_job(store.events, bus, job.id, timings=LIVE), on_item=close_after_replay)

    assert [e.seq for e in asyncio.run(main())] == [1]


# -- follow_owner --------------------------------------------------------------------------------


def test_owner_stream_carries_every_job_in_order_and_replays_by_global_id(
    store: JobStore, bus: InMemoryEventBus
) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(UserRow).values(id="someone-else", name="Someone Else", created_at=datetime.now(UTC))
        )
    earlier = submit(store)
    first, second = submit(store), submit(store)
    other_owner = submit(store, owner="someone-else")

    def run_all() -> None:
        for job in (first, other_owner, second):
            run_job(store, job.id)

    async def main() -> list[ProgressEvent]:
        got: list[ProgressEvent] = []
        stream = follow_owner(store.events, bus, LOCAL_USER_ID, timings=LIVE)
        writer = None
        try:
            while True:
                if writer is None:
                    # the first step subscribes: start writing once it has (it waits for a live event)
                    step = asyncio.ensure_future(stream.__anext__())
                    await asyncio.sleep(0)
                    writer = in_thread(run_all)
                    item = await asyncio.wait_for(step, 20)
                else:
                    item = await asyncio.wait_for(stream.__anext__(), 20)
                if item is not None:
                    got.append(item)
                if sum(e.final for e in got) == 2:
                    break
        finally:
            await stream.aclose()
        await writer
        return got

    events = asyncio.run(main())
    assert {e.job_id for e in events} == {first.id, second.id}  # not the earlier job's, not another owner's
    for job in (first, second):
        assert [e.seq for e in events if e.job_id == job.id] == [
            e.seq for e in store.events.job_events(job.id)
        ][1:] or [e.seq for e in events if e.job_id == job.id] == [
            e.seq for e in store.events.job_events(job.id)
        ]

    # replay after a global id: everything of this owner after it, in id order
    cut = store.events.job_events(first.id)[3].id
    expected = [e.id for e in store.events.owner_events(LOCAL_USER_ID, after_id=cut)]

    async def replay() -> list[ProgressEvent]:
        got: list[ProgressEvent] = []
        stream = follow_owner(store.events, bus, LOCAL_USER_ID, after_id=cut, timings=LIVE)
        try:
            while len(got) < len(expected):
                item = await asyncio.wait_for(stream.__anext__(), 10)
                if item is not None:
                    got.append(item)
        finally:
            await stream.aclose()
        return got

    replayed = asyncio.run(replay())
    assert [e.id for e in replayed] == expected
    assert {e.job_id for e in replayed} == {first.id, second.id}
    assert earlier.id not in {e.job_id for e in replayed}


# -- pieces --------------------------------------------------------------------------------------


def test_a_full_subscription_marks_itself_lost(bus: InMemoryEventBus) -> None:
    sub = Subscription(bus, job_id=uuid.uuid4(), owner_id=None, maxsize=1)
    event = _event(seq=1)

    async def main() -> None:
        sub.offer(event)
        assert not sub.lost
        sub.offer(event)
        assert sub.lost
        assert await sub.get(1) == event

    asyncio.run(main())


def _event(*, seq: int, message: str | None = "halfway\nthere") -> ProgressEvent:
    return ProgressEvent(
        id=40 + seq,
        job_id=uuid.UUID("5d6c1c57-5b38-4c1b-9d1a-1a3f7c2f0f11"),
        owner_id=LOCAL_USER_ID,
        seq=seq,
        type=EventType.PROGRESS,
        status="running",
        stage="transcribe",
        stage_status="running",
        stage_percent=50.0,
        job_percent=72.5,
        file="talk.mp3",
        message=message,
        at=datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
    )


def test_sse_encoding_round_trips_through_the_client_parser() -> None:
    event = _event(seq=7)
    wire = encode_retry(1000) + encode_event(event, event_id=7) + HEARTBEAT + encode_event(event, event_id=47)
    text = wire.decode()
    assert text.startswith("retry: 1000\n\nid: 7\nevent: progress\ndata: {")
    assert "\n: keep-alive\n\n" in text
    parser = SseParser()
    messages = [m for line in text.split("\n") if (m := parser.feed(line)) is not None]
    assert [(m.id, m.event, m.retry) for m in messages] == [
        (None, "message", 1000),
        ("7", "progress", None),
        (
            "47",
            "progress",
            None,
        ),
    ]
    assert ProgressEvent.from_json(json.loads(messages[1].data), owner_id=LOCAL_USER_ID) == event


def test_sse_parser_joins_data_lines_ignores_comments_and_keeps_the_last_id() -> None:
    parser = SseParser()
    lines = [": hello", "id: 3", "event: state", 'data: {"a":', "data: 1}", "", ":", "", "data:x", ""]
    messages = [m for line in lines if (m := parser.feed(line)) is not None]
    assert [(m.id, m.event, m.data) for m in messages] == [
        ("3", "state", '{"a":\n1}'),
        ("3", "message", "x"),  # the last event id stays until a new one is sent (as in EventSource)
    ]


def test_owner_stream_delivers_events_that_were_committed_but_never_published(
    store: JobStore, bus: InMemoryEventBus
) -> None:
    # Worker 1 lost Redis (its events reach only the log) while worker 2 publishes live: the live
    # events must not move the stream past worker 1's, and the log recheck must deliver them.
    silent = JobStore(
        store.engine, pipelines=shipped_pipelines(noop=True)
    )  # no event sink: nothing it logs is published
    quiet_job, loud_job = submit(silent), submit(store)
    timings = FollowTimings(heartbeat=60, recheck=0.2, poll=60)

    async def main() -> list[ProgressEvent]:
        got: list[ProgressEvent] = []
        stream = follow_owner(
            store.events,
            bus,
            LOCAL_USER_ID,
            after_id=store.events.last_event_id(LOCAL_USER_ID),
            timings=timings,
        )
        try:
            first = asyncio.ensure_future(stream.__anext__())
            await in_thread(lambda: run_stage(store, loud_job.id, "ingest"))
            item = await asyncio.wait_for(first, 20)  # the stream is live now

            def interleaved() -> None:  # the quiet job's ids fall between the loud job's
                run_stage(silent, quiet_job.id, "ingest")
                for stage in ("normalize", "transcribe"):
                    run_stage(store, loud_job.id, stage)
                    run_stage(silent, quiet_job.id, stage)

            writer = in_thread(interleaved)
            while True:
                if item is not None:
                    got.append(item)
                if {e.job_id for e in got if e.final} == {quiet_job.id, loud_job.id}:
                    return got
                item = await asyncio.wait_for(stream.__anext__(), 20)
        finally:
            await stream.aclose()
            await writer

    events = asyncio.run(main())
    for job in (quiet_job, loud_job):
        mine = [e.seq for e in events if e.job_id == job.id]
        assert mine == [e.seq for e in store.events.job_events(job.id)][1:]  # all but "accepted", each once
