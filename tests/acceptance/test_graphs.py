"""Stage graphs through the real store (PostgreSQL and SQLite), runner and Celery workers.

The pipelines are the tests' own (helpers/graphs.py): a diamond, and a fan-out whose children are
created by the parent's result and joined by one stage. Workers are real `mediajobs` worker
processes that register those pipelines the way a deployment would.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from helpers.graphs import DIAMOND, FAN, SOURCE, graph_pipelines
from helpers.processes import WorkerProcess, wait_for
from helpers.settings import make_settings
from mediajobs.domain import Attempt, Job, JobStatus, Pipeline, StageStatus
from mediajobs.domain.routing import queue_router
from mediajobs.queue.dispatcher import Dispatcher
from mediajobs.queue.maintenance import Maintenance
from mediajobs.registry import build_registry
from mediajobs.settings import Settings
from mediajobs.store import JobStore, create_db_engine, migrate
from mediajobs.store.tables import StageRunRow

BACKENDS = ["postgres", "sqlite"]


@dataclass
class GraphStack:
    settings: Settings
    store: JobStore
    tmp_path: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    def worker(self, name: str, *, concurrency: int = 2) -> WorkerProcess:
        worker = WorkerProcess(
            self.settings,
            self.tmp_path / f"{name}.log",
            concurrency=concurrency,
            plugins="helpers.graphs",
            extra_env={"MEDIAJOBS_WORKER_NAME": name},
        )
        self.workers.append(worker)
        return worker.start()

    def submit(self, pipeline: Pipeline, **options: Any) -> Job:
        job, _ = self.store.jobs.create_job(
            owner_id="local",
            pipeline=pipeline,
            source=SOURCE,
            options=pipeline.validate_options(options),
        )
        return job

    def wait(self, job_id: uuid.UUID, *, timeout: float = 60) -> Job:
        def ended() -> Job | None:
            job = self.store.jobs.get_job(job_id)
            return job if job.status.terminal else None

        try:
            return wait_for(ended, timeout=timeout, interval=0.1, message=f"job {job_id} ended")  # type: ignore[return-value]
        except TimeoutError:
            job = self.store.jobs.get_job(job_id)
            stuck = [
                (s.name, s.status.value, s.attempts, s.lease_owner, str(s.available_at))
                for s in job.stages
                if not s.status.terminal
            ]
            logs = "\n".join(w.log()[-3000:] for w in self.workers)
            raise TimeoutError(
                f"job {job_id} did not end; unfinished {stuck}; worker logs:\n{logs}"
            ) from None

    def warnings(self) -> str:
        """What the workers logged above INFO, and when each took its last message (for a failure)."""
        lines = []
        for worker in self.workers:
            log = worker.log().splitlines()
            # JSON lines (logconfig.py): a stage's start says `started: attempt`
            received = [line[:300] for line in log if " started: attempt " in line]
            lines.append(f"{worker.log_path.name}: {len(received)} stages started, the last: {received[-1:]}")
            lines += [
                line[:300] for line in log if '"level": "WARNING"' in line or '"level": "ERROR"' in line
            ][-20:]
        return "\n".join(lines)

    def attempts(self, job_id: uuid.UUID) -> dict[str, list[Attempt]]:
        by_stage: dict[str, list[Attempt]] = defaultdict(list)
        for attempt in self.store.jobs.list_attempts(job_id):
            by_stage[attempt.stage].append(attempt)
        return by_stage

    def count(self, job_id: uuid.UUID, status: StageStatus, owner_prefix: str | None = None) -> int:
        query = (
            select(func.count())
            .select_from(StageRunRow)
            .where(StageRunRow.job_id == job_id, StageRunRow.status == status)
        )
        if owner_prefix is not None:
            query = query.where(StageRunRow.lease_owner.like(f"{owner_prefix}:%"))
        with self.store.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


@pytest.fixture(params=BACKENDS)
def graphs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStack]:
    """The store and a maintenance loop (reaper, dead-worker reaping, relay) on one backend:
    PostgreSQL + Redis, or the embedded default (SQLite + filesystem broker). Workers on demand."""
    if request.param == "postgres":
        settings = make_settings(
            tmp_path,
            MEDIAJOBS_DATABASE_URL=request.getfixturevalue("pg_url"),
            CELERY_BROKER_URL=request.getfixturevalue("redis_url"),
            MEDIAJOBS_LEASE_SECONDS=3,
        )
    else:
        settings = make_settings(tmp_path, MEDIAJOBS_LEASE_SECONDS=3)
    engine = create_db_engine(settings.resolved_database_url)
    if request.param == "sqlite":
        migrate(engine)
    store = JobStore(engine, pipelines=graph_pipelines(), queue_for=queue_router(settings.queue_prefix))
    stack = GraphStack(settings=settings, store=store, tmp_path=tmp_path)
    stop = threading.Event()
    maintenance = Maintenance(store, Dispatcher(store, build_registry(settings).publisher()), settings)
    thread = maintenance.start_thread(stop)
    try:
        yield stack
    finally:
        for worker in stack.workers:
            worker.stop()
        stop.set()
        thread.join(10)
        engine.dispose()


def _only(attempts: list[Attempt]) -> Attempt:
    assert [a.outcome for a in attempts] == ["succeeded"], attempts
    return attempts[0]


def _finished(attempt: Attempt) -> datetime:
    assert attempt.finished_at is not None
    return attempt.finished_at


def test_a_diamond_runs_each_stage_once_in_dependency_order(graphs: GraphStack) -> None:
    graphs.worker("w1")
    job = graphs.submit(DIAMOND, work_seconds=0.3)

    done = graphs.wait(job.id)

    assert done.status is JobStatus.SUCCEEDED, done.error
    attempts = graphs.attempts(job.id)
    a, b, c, d = (_only(attempts[name]) for name in "abcd")
    assert b.started_at >= _finished(a)
    assert c.started_at >= _finished(a)
    assert d.started_at >= max(_finished(b), _finished(c))
    assert done.stage("d").output == {"stage": "d", "saw": ["b", "c"]}
    assert done.stage("b").output == {"stage": "b", "saw": ["a"]}
    assert done.progress == 100.0


def test_a_fan_out_of_50_runs_on_two_workers_and_joins_once_after_the_last(graphs: GraphStack) -> None:
    graphs.worker("w1")
    graphs.worker("w2")
    job = graphs.submit(FAN, children=50, work_seconds=0.1)

    done = graphs.wait(job.id)

    assert done.status is JobStatus.SUCCEEDED, done.error
    children = [s for s in done.stages if s.parent == "split"]
    assert sorted(s.index or 0 for s in children) == list(range(50))
    assert all(s.status is StageStatus.SUCCEEDED and s.run == "work" for s in children)
    attempts = graphs.attempts(job.id)
    child_attempts = [_only(attempts[s.name]) for s in children]
    join = _only(attempts["join"])
    _only(attempts["split"])
    assert join.started_at >= max(_finished(a) for a in child_attempts)
    assert done.stage("join").output == {"count": 50, "sum": sum(i * i for i in range(50))}
    workers = Counter(a.worker.split(":", 1)[0] for a in child_attempts)
    print(f"\nchildren per worker: {dict(workers)}")
    assert set(workers) == {"w1", "w2"}, graphs.warnings()  # both workers took children


def test_sigkill_during_the_fan_out_reruns_only_the_unfinished_children(graphs: GraphStack) -> None:
    victim = graphs.worker("w1")
    graphs.worker("w2")
    job = graphs.submit(FAN, children=40, work_seconds=0.5)

    def mid_fan_out() -> bool:
        # Both of w1's pool processes hold a claimed child: with a prefetch of one message per
        # process, w1 holds no message it has not claimed (that case has a test of its own below).
        return (
            graphs.count(job.id, StageStatus.SUCCEEDED) >= 8
            and graphs.count(job.id, StageStatus.RUNNING, owner_prefix="w1") == 2
        )

    wait_for(mid_fan_out, timeout=60, interval=0.05, message="w1 running children mid fan-out")
    before = graphs.store.jobs.get_job(job.id)
    victim.kill()
    killed_at = time.time()
    finished_before = {s.name for s in before.stages if s.status is StageStatus.SUCCEEDED}
    running_on_victim = {
        s.name
        for s in before.stages
        if s.status is StageStatus.RUNNING and (s.lease_owner or "").startswith("w1:")
    }

    done = graphs.wait(job.id)

    assert done.status is JobStatus.SUCCEEDED, done.error
    attempts = graphs.attempts(job.id)
    for name in finished_before:
        _only(attempts[name])  # a committed child never runs again
    recoveries = []
    for name in running_on_victim:
        outcomes = [a.outcome for a in attempts[name]]
        assert outcomes[0] == "lost", (name, outcomes)
        assert outcomes[-1] == "succeeded", (name, outcomes)
        recoveries.append(attempts[name][1].started_at.timestamp() - killed_at)
    for name, tries in attempts.items():
        assert [a.outcome for a in tries].count("succeeded") == 1, (name, tries)
    _only(attempts["join"])
    _only(attempts["split"])
    restarts = [round(r, 1) for r in recoveries]
    print(f"\nkilled w1 running {sorted(running_on_victim)}; restarts after {restarts} s")


def test_cancel_stops_every_child(graphs: GraphStack) -> None:
    graphs.worker("w1")
    job = graphs.submit(FAN, children=20, work_seconds=5)
    wait_for(
        lambda: graphs.count(job.id, StageStatus.RUNNING) >= 2, timeout=60, message="two children running"
    )

    graphs.store.jobs.request_cancel(job.id)
    cancelled_at = time.monotonic()
    done = graphs.wait(job.id, timeout=30)
    took = time.monotonic() - cancelled_at

    assert done.status is JobStatus.CANCELLED
    children = [s for s in done.stages if s.parent == "split"]
    assert len(children) == 20
    assert all(s.status is StageStatus.CANCELLED for s in children)
    assert done.stage("join").status is StageStatus.CANCELLED
    attempts = graphs.attempts(job.id)
    child_outcomes = [a.outcome for s in children for a in attempts.get(s.name, [])]
    assert child_outcomes.count("cancelled") >= 1  # running children were stopped, not finished
    assert "succeeded" not in child_outcomes
    assert "join" not in attempts
    assert took < 5.0  # the running children stopped well before their 5 s of work


def test_a_failing_child_with_retries_left_retries_alone(graphs: GraphStack) -> None:
    graphs.worker("w1")
    job = graphs.submit(FAN, children=6, fail_children=[3])

    done = graphs.wait(job.id)

    assert done.status is JobStatus.SUCCEEDED, done.error
    attempts = graphs.attempts(job.id)
    assert [a.outcome for a in attempts["work[3]"]] == ["retry", "succeeded"]
    for name in ("split", "join", *(f"work[{i}]" for i in (0, 1, 2, 4, 5))):
        _only(attempts[name])
    assert done.stage("join").output == {"count": 6, "sum": 55}


def _take_message(graphs: GraphStack, queue: str) -> None:
    """Take one message off a broker queue and drop it: what a worker killed right after receiving
    it (before its pool process claimed the stage) leaves behind."""
    settings = graphs.settings
    if settings.embedded:
        folder = settings.broker_dir / "messages"
        wait_for(lambda: any(folder.glob(f"*.{queue}.msg")), timeout=30, message="message in the folder")
        next(iter(folder.glob(f"*.{queue}.msg"))).unlink()
        return
    client = redis.Redis.from_url(settings.resolved_broker_url)
    try:
        wait_for(lambda: client.rpop(queue), timeout=30, message=f"message on {queue}")
    finally:
        client.close()


def test_a_message_taken_by_a_worker_that_died_before_claiming_it_runs_within_a_lease(
    graphs: GraphStack,
) -> None:
    job = graphs.submit(DIAMOND)
    _take_message(graphs, f"{graphs.settings.queue_prefix}media")
    graphs.store.leases.mark_reserved("dead-worker:1:abc", job.id, "a")  # its main process had marked it
    died_at = time.monotonic()
    graphs.worker("w1")

    done = graphs.wait(job.id)

    recovered = time.monotonic() - died_at
    assert done.status is JobStatus.SUCCEEDED, done.error
    _only(graphs.attempts(job.id)["a"])
    lease, redispatch = graphs.settings.lease_seconds, graphs.settings.redispatch_after_seconds
    print(f"\nre-sent and finished {recovered:.1f} s after the worker died (lease {lease} s)")
    assert redispatch == 900  # the production default: the stale re-dispatch is not what saved it
    assert recovered < lease + 15  # a lease period, plus a worker's start-up and the four stages
