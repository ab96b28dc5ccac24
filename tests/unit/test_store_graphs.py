"""Stage graphs, admission, hooks and recovery of reserved messages through the real store (SQLite)
and the runner, on the in-memory broker and storage."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError, PendingRollbackError

from helpers.clock import FakeClock
from helpers.graphs import DIAMOND, FAN, SOURCE, graph_pipelines, split
from helpers.settings import make_settings
from mediajobs.domain import AtMostInFlight, JobStatus, Pipeline, StageSpec, StageStatus
from mediajobs.engines import Engines
from mediajobs.errors import StoreUnavailable
from mediajobs.hooks import Hooks, JobFinished, StageFinished, StageInfo
from mediajobs.pipelines import get_pipeline, kinds
from mediajobs.queue.dispatcher import Dispatcher
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.runner import Runner
from mediajobs.storage import InMemoryStorage, Workspace
from mediajobs.store import Claim, JobStore, WorkerBeat, create_db_engine


@dataclass
class RecordingHooks(Hooks):
    started: list[StageInfo] = field(default_factory=list)
    finished: list[StageFinished] = field(default_factory=list)
    jobs: list[JobFinished] = field(default_factory=list)
    progress: int = 0

    def stage_started(self, stage: StageInfo) -> None:
        self.started.append(stage)

    def stage_progress(self, stage: StageInfo, percent: float | None, message: str | None) -> None:
        self.progress += 1

    def stage_finished(self, finished: StageFinished) -> None:
        self.finished.append(finished)

    def job_finished(self, job: JobFinished) -> None:
        self.jobs.append(job)


@dataclass
class Graphs:
    store: JobStore
    publisher: InMemoryPublisher
    dispatcher: Dispatcher
    runner: Runner
    hooks: RecordingHooks
    clock: FakeClock

    def submit(self, pipeline: Pipeline, **options: object) -> uuid.UUID:
        job, _ = self.dispatcher.settled(  # as the submit use case does: admit and publish after commit
            self.store.jobs.create_job,
            owner_id="local",
            pipeline=pipeline,
            source=SOURCE,
            options=pipeline.validate_options(options),
        )
        return job.id

    def drain(self) -> None:
        for _ in range(20):
            self.publisher.drain(self.runner.run)
            self.clock.advance(5)  # let retry backoffs elapse
            if not self.dispatcher.dispatch_due():
                return


def build(tmp_path: Path, sqlite_url: str, clock: FakeClock, **store_args: object) -> Graphs:
    hooks = RecordingHooks()
    store = JobStore(
        create_db_engine(sqlite_url),
        pipelines=graph_pipelines(),
        clock=clock,
        hooks=hooks,
        **store_args,  # type: ignore[arg-type]
    )
    publisher = InMemoryPublisher()
    dispatcher = Dispatcher(store, publisher)
    runner = Runner(
        store=store,
        dispatcher=dispatcher,  # publishes after each commit, as a worker's does
        storage=InMemoryStorage(),
        workspace=Workspace(tmp_path / "work"),
        settings=make_settings(tmp_path, MEDIAJOBS_RETRY_BASE_SECONDS=1, MEDIAJOBS_RETRY_CAP_SECONDS=2),
        engines=Engines(),
        hooks=hooks,
        worker_id="worker-test",
    )
    built = Graphs(
        store=store, publisher=publisher, dispatcher=dispatcher, runner=runner, hooks=hooks, clock=clock
    )
    return built


@pytest.fixture
def graphs(tmp_path: Path, sqlite_url: str, clock: FakeClock) -> Iterator[Graphs]:
    built = build(tmp_path, sqlite_url, clock)
    yield built
    built.store.engine.dispose()


def test_a_diamond_runs_each_stage_once_with_its_needs_outputs(graphs: Graphs) -> None:
    job_id = graphs.submit(DIAMOND)

    graphs.drain()

    job = graphs.store.jobs.get_job(job_id)
    assert job.status is JobStatus.SUCCEEDED
    attempts = graphs.store.jobs.list_attempts(job_id)
    assert attempts[0].stage == "a"
    assert attempts[-1].stage == "d"
    assert sorted((a.stage, a.outcome) for a in attempts) == [(n, "succeeded") for n in "abcd"]
    assert job.stage("d").output == {"stage": "d", "saw": ["b", "c"]}


def test_a_fan_out_creates_children_in_the_parents_transaction_and_joins_once(graphs: Graphs) -> None:
    job_id = graphs.submit(FAN, children=5, fail_children=[2])

    graphs.drain()

    job = graphs.store.jobs.get_job(job_id)
    assert job.status is JobStatus.SUCCEEDED
    children = [s for s in job.stages if s.parent == "split"]
    assert [(c.name, c.index, c.params) for c in children] == [
        (f"work[{i}]", i, {"index": i}) for i in range(5)
    ]
    assert job.stage("join").output == {"count": 5, "sum": 30}
    outcomes = {}
    for attempt in graphs.store.jobs.list_attempts(job_id):
        outcomes.setdefault(attempt.stage, []).append(attempt.outcome)
    assert outcomes.pop("work[2]") == ["retry", "succeeded"]  # the failing child retried alone
    assert all(o == ["succeeded"] for o in outcomes.values())
    assert job.progress == 100.0


def test_a_fan_out_of_zero_children_goes_straight_to_the_join(graphs: Graphs) -> None:
    job_id = graphs.submit(FAN, children=0)

    graphs.drain()

    job = graphs.store.jobs.get_job(job_id)
    assert job.status is JobStatus.SUCCEEDED
    assert job.stage("join").output == {"count": 0, "sum": 0}


def test_a_stage_that_returns_children_without_declaring_a_fan_out_fails_the_job(graphs: Graphs) -> None:
    liar = Pipeline(  # its one stage returns children but declares no fan-out
        name="liar",
        stages=(StageSpec(name="a", kind=kinds.MEDIA, code=split),),
        options_model=DIAMOND.options_model,
        source_schemes=DIAMOND.source_schemes,
    )
    graphs.store.pipelines.register(liar)
    job_id = graphs.submit(liar, children=2)

    graphs.drain()

    job = graphs.store.jobs.get_job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "invalid_fan_out"
    assert not [s for s in job.stages if s.parent]  # the transaction that would create them rolled back


def test_cancel_of_a_fan_out_cancels_every_child(graphs: Graphs) -> None:
    job_id = graphs.submit(FAN, children=4)
    graphs.publisher.deliver(graphs.runner.run)  # only the split runs
    assert [s.status for s in graphs.store.jobs.get_job(job_id).stages if s.parent] == [
        StageStatus.QUEUED
    ] * 4

    graphs.store.jobs.request_cancel(job_id)
    graphs.drain()

    job = graphs.store.jobs.get_job(job_id)
    assert job.status is JobStatus.CANCELLED
    assert all(s.status is StageStatus.CANCELLED for s in job.stages if s.name != "split")
    assert [a.stage for a in graphs.store.jobs.list_attempts(job_id)] == ["split"]


def test_hooks_see_each_attempt_and_each_finished_job_once(graphs: Graphs) -> None:
    job_id = graphs.submit(DIAMOND, work_seconds=0.0, fail_stages=["b"])

    graphs.drain()

    assert [s.stage for s in graphs.hooks.started].count("b") == 2
    assert [(f.stage.stage, f.outcome) for f in graphs.hooks.finished if f.stage.stage == "b"] == [
        ("b", "retry"),
        ("b", "succeeded"),
    ]
    assert all(f.seconds >= 0 for f in graphs.hooks.finished)
    assert graphs.hooks.jobs == [
        JobFinished(
            job_id=job_id,
            owner_id="local",
            pipeline="diamond",
            status="succeeded",
            error=None,
            lane="standard",
            seconds=5.0,  # the drain moved the clock on once (retry backoff) between submit and end
            media_seconds=None,
        )
    ]
    cancelled = graphs.submit(DIAMOND)
    graphs.store.jobs.request_cancel(
        cancelled
    )  # ended by the API, not by a runner: the store tells the hooks
    assert graphs.hooks.jobs[-1].job_id == cancelled
    assert graphs.hooks.jobs[-1].status == "cancelled"


def test_admission_holds_ready_stages_until_the_policy_lets_them_go(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    graphs = build(tmp_path, sqlite_url, clock, admission=AtMostInFlight(limit=1))
    try:
        first = graphs.submit(DIAMOND)
        second = graphs.submit(DIAMOND)
        assert graphs.store.jobs.get_job(first).stage("a").status is StageStatus.QUEUED
        assert (
            graphs.store.jobs.get_job(second).stage("a").status is StageStatus.READY
        )  # waits in the database
        assert [m.job_id for m in graphs.publisher.published] == [first]
        assert graphs.store.admission.admit_waiting() == 0  # the first job's stage is still in flight

        graphs.publisher.deliver(graphs.runner.run)  # a succeeds; b and c become ready
        after = graphs.store.jobs.get_job(first)
        assert sorted(s.status.value for s in after.stages if s.name in "bc") == ["queued", "ready"]

        graphs.drain()  # one stage in flight at a time, released by each stage's end and by the tick
        while graphs.store.admission.admit_waiting():
            graphs.drain()
        assert graphs.store.jobs.get_job(first).status is JobStatus.SUCCEEDED
        assert graphs.store.jobs.get_job(second).status is JobStatus.SUCCEEDED
    finally:
        graphs.store.engine.dispose()


def test_a_message_reserved_by_a_worker_that_stopped_beating_is_sent_again(
    store: JobStore, clock: FakeClock
) -> None:
    transcribe = get_pipeline("transcribe")
    dead_job, _ = store.jobs.create_job(owner_id="local", pipeline=transcribe, source=SOURCE, options={})
    live_job, _ = store.jobs.create_job(owner_id="local", pipeline=transcribe, source=SOURCE, options={})
    with store.outbox.outbox_batch() as batch:
        for message in batch.messages:
            batch.mark_sent(message)
    started = clock.now
    for name in ("dead", "live"):
        store.leases.worker_heartbeat(WorkerBeat(worker_id=name, hostname="h", pid=1, started_at=started))
    store.leases.mark_reserved("dead", dead_job.id, "ingest")
    store.leases.mark_reserved("live", live_job.id, "ingest")

    clock.advance(20)
    store.leases.worker_heartbeat(WorkerBeat(worker_id="live", hostname="h", pid=1, started_at=started))
    assert store.leases.reap_dead_workers(silent_for=timedelta(seconds=30)) == 0  # nobody silent long enough
    clock.advance(20)  # "dead" has been silent 40 s, "live" 20 s

    assert store.leases.reap_dead_workers(silent_for=timedelta(seconds=30)) == 1
    assert [m.stage for m in _due(store, dead_job.id)] == ["ingest"]  # a new message for it
    assert _due(store, live_job.id) == []  # the live worker still holds its message
    assert store.leases.reap_dead_workers(silent_for=timedelta(seconds=30)) == 0  # once only

    claim = store.stages.claim_stage(live_job.id, "ingest", worker="live:1", lease_seconds=30)
    assert isinstance(claim, Claim)  # the claim clears the mark: a later death resends nothing
    clock.advance(100)
    assert store.leases.reap_dead_workers(silent_for=timedelta(seconds=30)) == 0


def _due(store: JobStore, job_id: uuid.UUID) -> list[object]:
    with store.outbox.outbox_batch(job_id=job_id) as batch:
        return list(batch.messages)


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly")),
        PendingRollbackError("Can't reconnect until invalid transaction is rolled back"),
    ],
)
def test_a_lost_database_leaves_the_store_as_store_unavailable(store: JobStore, error: Exception) -> None:
    with pytest.raises(StoreUnavailable) as caught, store.db.tx():
        raise error
    assert caught.value.retryable
    assert isinstance(caught.value.__cause__, type(error))


def test_other_database_errors_are_not_disguised(store: JobStore) -> None:
    with pytest.raises(IntegrityError), store.db.tx():
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))


def test_ping_and_readiness(store: JobStore) -> None:
    store.db.ping()
    store.check_ready()


def test_a_rerun_from_the_join_runs_the_children_again_but_not_their_parent(graphs: Graphs) -> None:
    from mediajobs.domain.rerun import plan_rerun

    first_id = graphs.submit(FAN, children=3)
    graphs.drain()
    first = graphs.store.jobs.get_job(first_id)
    plan = plan_rerun(FAN, first.stages, "join")

    rerun = graphs.dispatcher.settled(
        graphs.store.jobs.create_rerun,
        job_id=uuid.uuid4(),
        old=first,
        pipeline=FAN,
        options=first.options,
        reused=plan.reused,
        redo=plan.redo,
    )
    graphs.drain()

    done = graphs.store.jobs.get_job(rerun.id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.rerun_of == first_id
    assert sorted(a.stage for a in graphs.store.jobs.list_attempts(rerun.id)) == [
        "join", "work[0]", "work[1]", "work[2]",
    ]  # fmt: skip
    assert done.stage("split").output == first.stage("split").output
    assert done.stage("join").output == {"count": 3, "sum": 5}


def test_one_live_worker_that_serves_maintenance_leads_it_and_the_next_takes_over_when_it_dies(
    store: JobStore, clock: FakeClock
) -> None:
    started, silence = clock.now, timedelta(seconds=30)

    def beat(name: str, queues: tuple[str, ...]) -> None:
        store.leases.worker_heartbeat(
            WorkerBeat(worker_id=name, hostname="h", pid=1, started_at=started, queues=queues)
        )

    def leader() -> str | None:
        return store.leases.maintenance_leader(queue="maintenance", silent_for=silence)

    assert leader() is None  # no worker serves maintenance: nobody runs it
    beat("a", ("transcribe",))
    assert leader() is None
    beat("c", ("media", "maintenance"))
    beat("b", ("download", "maintenance"))
    assert leader() == "b"  # the smallest id of those that serve maintenance
    clock.advance(20)
    beat("c", ("media", "maintenance"))
    assert leader() == "b"  # silent 20 s: still live
    clock.advance(15)
    assert leader() == "c"  # silent 35 s: "c" takes over
