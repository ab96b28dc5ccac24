"""Sticky stages: a worker that finishes a stage claims the successor bound for a queue it consumes in
the completion's own transaction and runs it at once, with no message and no broker round trip; the
broker is used when the queue is another worker's, when a faster lane's work waits, when the task's
time is short, or when the job was cancelled. SQLite store, in-memory broker, the real runner."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.settings import make_settings
from mediajobs.domain import JobStatus, StageStatus
from mediajobs.domain.budget import TaskBudget
from mediajobs.domain.routing import queue_router
from mediajobs.domain.tenancy import Tier
from mediajobs.drain import Drain
from mediajobs.engines import Engines
from mediajobs.pipelines import shipped_pipelines
from mediajobs.queue.dispatcher import Dispatcher
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.registry import build_registry
from mediajobs.runner import Runner
from mediajobs.storage import InMemoryStorage, Workspace
from mediajobs.store import JobStore, create_db_engine

ROUTE = queue_router("")
QUEUES = {
    lane: {kind: ROUTE(lane, kind) for kind in ("download", "media", "transcribe")}
    for lane in ("express", "standard", "batch")
}
LANE_OF = {queue: lane for lane, kinds in QUEUES.items() for queue in kinds.values()}


@dataclass
class World:
    store: JobStore
    publisher: InMemoryPublisher
    dispatcher: Dispatcher
    tmp_path: Path

    def runner(self, consumes: set[str], **kwargs: object) -> Runner:
        settings = make_settings(self.tmp_path)
        registry = build_registry(settings)
        order = ["express", "standard", "batch"]

        def faster(lane: str) -> list[str]:
            return [q for q in consumes if order.index(LANE_OF[q]) < order.index(lane)]

        return Runner(
            store=self.store,
            dispatcher=self.dispatcher,
            storage=InMemoryStorage(),
            workspace=Workspace(self.tmp_path / "work"),
            settings=settings,
            engines=Engines(),
            worker_id="w1",
            consumes=frozenset(consumes),
            faster_queues=faster,
            time_limits=registry.time_limits,
            **kwargs,  # type: ignore[arg-type]
        )

    def submit(self, owner: str = "local") -> uuid.UUID:
        job, _ = self.dispatcher.settled(
            self.store.jobs.create_job,
            owner_id=owner,
            pipeline=self.store.pipelines.get_pipeline("noop3"),
            source="noop://x",
            options={},
            lane="express" if owner == "local" else "standard",
        )
        return job.id


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str) -> Iterator[World]:
    store = JobStore(create_db_engine(sqlite_url), pipelines=shipped_pipelines(noop=True), queue_for=ROUTE)
    publisher = InMemoryPublisher()
    yield World(store, publisher, Dispatcher(store, publisher), tmp_path)
    store.engine.dispose()


def attempts_by_stage(world: World, job_id: uuid.UUID) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for attempt in world.store.jobs.list_attempts(job_id):
        found.setdefault(attempt.stage, []).append(attempt.worker)
    return found


def test_a_worker_that_serves_every_queue_runs_all_three_stages_from_one_message(world: World) -> None:
    runner = world.runner(set(QUEUES["express"].values()))
    job_id = world.submit()
    assert world.publisher.drain(runner.run) == 1  # one delivery ran the whole job
    assert [m.stage for m in world.publisher.published] == ["first"]  # no message for the others
    job = world.store.jobs.get_job(job_id)
    assert job.status is JobStatus.SUCCEEDED
    assert attempts_by_stage(world, job_id) == {"first": ["w1"], "second": ["w1"], "third": ["w1"]}
    with world.store.outbox.outbox_batch(job_id=job_id) as batch:
        assert batch.messages == []  # nothing left for the relay either
    messages = [e.message for e in world.store.events.job_events(job_id)]
    assert sum("attempt 1 started on w1" in (m or "") for m in messages) == 3


def test_a_successor_bound_for_a_queue_the_worker_does_not_serve_goes_through_the_broker(
    world: World,
) -> None:
    runner = world.runner({QUEUES["express"]["download"], QUEUES["express"]["media"]})
    job_id = world.submit()
    world.publisher.deliver(runner.run)  # first, then second on the same worker
    assert [m.stage for m in world.publisher.published] == ["first", "third"]
    assert world.publisher.queues() == [QUEUES["express"]["transcribe"]]
    job = world.store.jobs.get_job(job_id)
    assert [s.status for s in job.stages] == [
        StageStatus.SUCCEEDED,
        StageStatus.SUCCEEDED,
        StageStatus.QUEUED,
    ]


def test_work_waiting_in_a_faster_lane_sends_a_standard_jobs_successor_through_the_broker(
    world: World,
) -> None:
    free = world.store.users.create_user("free-user", tier=Tier.FREE)
    runner = world.runner(set(QUEUES["express"].values()) | set(QUEUES["standard"].values()))
    slow = world.submit(free.id)  # standard lane
    world.submit()  # express: its first message waits in the broker
    assert world.publisher.queues() == [QUEUES["standard"]["download"], QUEUES["express"]["download"]]
    world.publisher.deliver(runner.run)  # the standard job's first stage
    job = world.store.jobs.get_job(slow)
    assert job.stages[1].status is StageStatus.QUEUED  # not followed: express work is waiting
    assert world.publisher.queues()[-1] == QUEUES["standard"]["media"]


def test_a_successor_is_followed_only_while_the_tasks_time_limits_leave_it_nine_tenths_of_its_own(
    world: World,
) -> None:
    runner = world.runner(set(QUEUES["express"].values()))
    world.submit()
    now = time.monotonic()
    short = TaskBudget(started=now - 10, soft=3300, hard=3600)  # 3290 s of 3300 left: follows
    runner.run(world.publisher.messages.popleft().job_id, "first", short)
    assert [m.stage for m in world.publisher.published] == ["first"]
    job_id = world.submit()
    spent = TaskBudget(started=now - 400, soft=3300, hard=3600)  # 2900 s left, < 0.9 x 3300
    world.publisher.messages.clear()
    runner.run(job_id, "first", spent)
    assert [m.stage for m in world.publisher.published][-1] == "second"  # sent, not followed


def test_a_successor_with_shorter_limits_than_what_the_task_has_left_goes_through_the_broker() -> None:
    now = time.monotonic()
    task = TaskBudget(started=now - 1, soft=3300, hard=3600)
    assert task.fits(3300, 3600, now)  # the usual case: every stage has the default limits
    assert not task.fits(4, 5, now)  # its own 4 s would not hold inside this task's 3299 s
    assert not TaskBudget(started=now).fits(4, 5, now)  # a task without limits enforces none
    assert not task.fits(3300, 9000, now)  # a tenth of its hard limit would be lost


def test_a_cancelled_job_is_not_followed(world: World) -> None:
    runner = world.runner(set(QUEUES["express"].values()))
    job_id = world.submit()
    claim = world.store.stages.claim_stage(job_id, "first", worker="w1", lease_seconds=30)
    world.dispatcher.settled(world.store.jobs.request_cancel, job_id, None)
    assert not isinstance(claim, str)
    follow = runner._follow(claim, None)  # type: ignore[arg-type]
    job, followed = world.store.stages.complete_and_follow(claim, {}, (), (), follow)  # type: ignore[arg-type]
    assert followed is None
    assert job.status is JobStatus.CANCELLED


def test_a_draining_worker_follows_no_successor(world: World) -> None:
    drain = Drain(60)
    runner = world.runner(set(QUEUES["express"].values()), drain=drain)
    job_id = world.submit()
    drain.begin()  # the worker was told to stop: the stage it runs ends, its successor is not its own
    world.publisher.deliver(runner.run)
    drain.cancel_timer()
    assert [m.stage for m in world.publisher.published] == ["first", "second"]
    assert attempts_by_stage(world, job_id) == {"first": ["w1"]}
