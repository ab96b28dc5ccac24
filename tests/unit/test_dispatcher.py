"""The outbox relay: publishes due messages, survives a broker outage, never loses or doubles a message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from helpers.clock import FakeClock
from mediajobs.domain import LOCAL_USER_ID, ErrorInfo, Job
from mediajobs.pipelines import get_pipeline, shipped_pipelines
from mediajobs.queue.dispatcher import Dispatcher
from mediajobs.queue.maintenance import RELAY_AFTER
from mediajobs.queue.memory import BrokerDown, InMemoryPublisher
from mediajobs.store import Claim, JobStore, create_db_engine
from mediajobs.store.tables import OutboxRow


@pytest.fixture
def store(sqlite_url: str, clock: FakeClock) -> Iterator[JobStore]:
    """The shared store fixture, with queue names of its own."""
    engine = create_db_engine(sqlite_url)
    yield JobStore(
        engine,
        clock=clock,
        queue_for=lambda lane, kind: f"test.{kind}",
        pipelines=shipped_pipelines(noop=True),
    )
    engine.dispose()


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def dispatcher(store: JobStore, publisher: InMemoryPublisher) -> Dispatcher:
    return Dispatcher(store, publisher)


def submit(store: JobStore, n: int = 1) -> list[Job]:
    return [
        store.jobs.create_job(
            owner_id=LOCAL_USER_ID,
            pipeline=get_pipeline("transcribe"),
            source=f"https://example.com/{i}.mp3",
            options={},
        )[0]
        for i in range(n)
    ]


def publish_attempts(store: JobStore) -> list[int]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(OutboxRow.publish_attempts).order_by(OutboxRow.id)).scalars())


def test_dispatch_due_publishes_and_marks_sent(
    store: JobStore, dispatcher: Dispatcher, publisher: InMemoryPublisher
) -> None:
    jobs = submit(store, 3)

    assert dispatcher.dispatch_due() == 3

    assert [(m.job_id, m.stage, m.queue) for m in publisher.published] == [
        (j.id, "ingest", "test.download") for j in jobs
    ]
    assert store.outbox.pending_outbox_count() == 0
    assert dispatcher.dispatch_due() == 0
    assert len(publisher.published) == 3


def test_dispatch_due_walks_every_batch(store: JobStore, publisher: InMemoryPublisher) -> None:
    jobs = submit(store, 7)
    dispatcher = Dispatcher(store, publisher, batch_size=3)

    assert dispatcher.dispatch_due() == 7

    assert sorted(m.job_id for m in publisher.published) == sorted(j.id for j in jobs)
    assert store.outbox.pending_outbox_count() == 0


def test_dispatch_due_skips_messages_not_yet_due(
    store: JobStore, dispatcher: Dispatcher, publisher: InMemoryPublisher, clock: FakeClock
) -> None:
    [job] = submit(store)
    dispatcher.dispatch_due()
    claim = store.stages.claim_stage(job.id, "ingest", worker="w", lease_seconds=5)
    assert isinstance(claim, Claim)
    store.stages.fail_attempt(claim, ErrorInfo(code="busy", message="busy"), retry_delay=10.0)

    assert dispatcher.dispatch_due() == 0
    clock.advance(10)
    assert dispatcher.dispatch_due() == 1

    assert [(m.stage, m.fence) for m in publisher.published] == [("ingest", 0), ("ingest", 1)]


def test_broker_outage_delays_but_never_loses_messages(
    store: JobStore, dispatcher: Dispatcher, publisher: InMemoryPublisher
) -> None:
    jobs = submit(store, 4)
    publisher.down = True

    assert dispatcher.dispatch_due() == 0
    assert dispatcher.dispatch_due() == 0

    assert publisher.published == []
    assert store.outbox.pending_outbox_count() == 4
    # the relay stops at the first refusal; only that message counts a failed attempt
    assert publish_attempts(store) == [2, 0, 0, 0]
    with pytest.raises(BrokerDown):
        publisher.ping()

    publisher.down = False
    assert dispatcher.dispatch_due() == 4
    assert dispatcher.dispatch_due() == 0

    assert sorted(m.job_id for m in publisher.published) == sorted(j.id for j in jobs)
    assert len({m.id for m in publisher.published}) == 4
    assert store.outbox.pending_outbox_count() == 0


def test_publish_now_sends_what_the_commit_wrote_and_the_relay_leaves_fresh_messages_to_it(
    store: JobStore, dispatcher: Dispatcher, publisher: InMemoryPublisher, clock: FakeClock
) -> None:
    with store.db.collecting() as gathered:  # what `settled` gathers: the messages each commit wrote
        first, second, third = submit(store, 3)
    seen = gathered.messages
    assert [m.job_id for m in seen] == [first.id, second.id, third.id]
    assert {m.id for m in seen} == {
        i for job in (first, second, third) for i in store.outbox.unsent_ids(job.id)
    }

    assert dispatcher.publish_now([m for m in seen if m.job_id == second.id]) == 1

    assert [(m.job_id, m.stage) for m in publisher.published] == [(second.id, "ingest")]
    assert store.outbox.unsent_ids(second.id) == []
    assert len(store.outbox.unsent_ids(first.id)) == 1
    # the relay leaves messages due for less than RELAY_AFTER to the process that wrote them...
    assert dispatcher.dispatch_due(older_than=RELAY_AFTER) == 0
    clock.advance(RELAY_AFTER.total_seconds() + 0.5)
    # ...and publishes those still unsent after it
    assert dispatcher.dispatch_due(older_than=RELAY_AFTER) == 2
    assert sorted(m.job_id for m in publisher.published[1:]) == sorted([first.id, third.id])


def test_publish_now_while_the_broker_is_down_leaves_the_message_to_the_relay(
    store: JobStore, dispatcher: Dispatcher, publisher: InMemoryPublisher, clock: FakeClock
) -> None:
    with store.db.collecting() as gathered:
        [job] = submit(store)
    seen = gathered.messages
    publisher.down = True

    assert dispatcher.publish_now(seen) == 0
    assert len(store.outbox.unsent_ids(job.id)) == 1

    publisher.down = False
    clock.advance(RELAY_AFTER.total_seconds() + 0.5)
    assert dispatcher.dispatch_due(older_than=RELAY_AFTER) == 1
    assert [m.job_id for m in publisher.published] == [job.id]
    assert store.outbox.unsent_ids(job.id) == []


def test_drain_delivers_messages_in_order(publisher: InMemoryPublisher, store: JobStore) -> None:
    jobs = submit(store, 2)
    Dispatcher(store, publisher).dispatch_due()
    delivered: list[tuple[object, str]] = []

    count = publisher.drain(lambda job_id, stage: delivered.append((job_id, stage)))

    assert count == 2
    assert delivered == [(j.id, "ingest") for j in jobs]
    assert not publisher.messages
    assert publisher.queues() == []


def test_messages_the_broker_lost_are_sent_again_once_a_lease_period_passed(
    store: JobStore, dispatcher: Dispatcher, publisher: InMemoryPublisher, clock: FakeClock
) -> None:
    """Counting finds the loss: three stages wait on `test.ingest`, the broker holds one message.
    A count cannot tell which two were lost, so all three go out again (the claim drops the extra)."""
    jobs = submit(store, 3)
    dispatcher.dispatch_due()
    publisher.lose(2)
    lease = timedelta(seconds=30)

    assert (
        store.strays.resend_lost(publisher.queue_sizes, older_than=lease, settle=0) == 0
    )  # too young to judge
    clock.advance(31)
    assert store.strays.resend_lost(publisher.queue_sizes, older_than=lease, settle=0) == 3
    assert dispatcher.dispatch_due() == 3
    assert {m.job_id for m in publisher.messages} == {job.id for job in jobs}

    clock.advance(31)
    assert (
        store.strays.resend_lost(publisher.queue_sizes, older_than=lease, settle=0) == 0
    )  # nothing short: no duplicate


def test_a_reserved_or_claimed_stage_is_not_counted_as_lost(
    store: JobStore, dispatcher: Dispatcher, publisher: InMemoryPublisher, clock: FakeClock
) -> None:
    first, second = submit(store, 2)
    dispatcher.dispatch_due()
    publisher.messages.clear()  # both messages taken by workers:
    store.leases.mark_reserved("w1", first.id, "ingest")  # one arrived and is marked
    claim = store.stages.claim_stage(second.id, "ingest", worker="w2", lease_seconds=30)  # one runs
    assert isinstance(claim, Claim)
    clock.advance(120)

    assert store.strays.resend_lost(publisher.queue_sizes, older_than=timedelta(seconds=30), settle=0) == 0
