"""Chaos: workers SIGKILLed on a schedule, Redis killed and restarted, PostgreSQL connections cut.

Every job must end, none may be lost, none may succeed twice, and no stage may run again once its
checkpoint was committed. Sizes come from the environment so the same test runs small in CI and large
by hand:

    MEDIAJOBS_CHAOS_JOBS=1000 MEDIAJOBS_CHAOS_WORKERS=3 .venv/bin/pytest tests/chaos -s
"""

from __future__ import annotations

import gc
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from helpers.auth import authorize
from helpers.media import speak
from helpers.processes import WorkerProcess
from helpers.redis_server import RedisServer
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.pipelines import shipped_pipelines
from mediajobs.settings import Settings
from mediajobs.store import JobStore, create_db_engine
from mediajobs.store.tables import JobRow, StageRunRow

pytestmark = [
    pytest.mark.chaos,
    # The test terminates PostgreSQL connections under the pool on purpose; psycopg then warns when
    # the dead connection objects are collected.
    pytest.mark.filterwarnings("ignore:.*was deleted while still open:ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

JOBS = int(os.environ.get("MEDIAJOBS_CHAOS_JOBS", "100"))
WORKERS = int(os.environ.get("MEDIAJOBS_CHAOS_WORKERS", "2"))
KILL_EVERY = float(os.environ.get("MEDIAJOBS_CHAOS_KILL_EVERY", "4"))
DEADLINE = float(os.environ.get("MEDIAJOBS_CHAOS_DEADLINE", "400"))
SEED = int(os.environ.get("MEDIAJOBS_CHAOS_SEED", str(random.SystemRandom().randrange(10**6))))
CLIP_TEXT = "Good morning. The meeting starts at nine."


@dataclass
class Figures:
    jobs: int = 0
    kills: int = 0
    redis_restarts: int = 0
    postgres_cuts: int = 0
    killed_stages: list[tuple[str, str, float]] = field(default_factory=list)  # job, stage, kill time
    recoveries: list[float] = field(default_factory=list)  # kill -> next attempt of the stage starts
    redispatches: list[float] = field(default_factory=list)  # kill -> stage re-queued (or taken over)
    wall_seconds: float = 0.0


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    yield server
    server.kill()


def _cut_postgres(pg_url: str) -> int:
    database = pg_url.rsplit("/", 1)[1]
    admin = pg_url.rsplit("/", 1)[0] + "/test"
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return len(rows)


def _running_stages(store: JobStore, worker_name: str) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(StageRunRow.job_id, StageRunRow.name).where(
                StageRunRow.status == "running", StageRunRow.lease_owner.like(f"{worker_name}:%")
            )
        ).all()
    return [(str(r.job_id), r.name) for r in rows]


def _ended(store: JobStore) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(JobRow)
                .where(JobRow.status.in_(("succeeded", "failed", "cancelled")))
            ).scalar_one()
        )


def _stalled(store: JobStore) -> str:
    """What the jobs that have not ended are waiting on (for the deadline's failure message)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(StageRunRow.name, StageRunRow.status, func.count())
            .join(JobRow, JobRow.id == StageRunRow.job_id)
            .where(JobRow.status.not_in(("succeeded", "failed", "cancelled")))
            .group_by(StageRunRow.name, StageRunRow.status)
        ).all()
    return ", ".join(f"{name}:{status}={count}" for name, status, count in rows)


@pytest.mark.timeout(DEADLINE + 120)
def test_no_job_lost_stuck_or_done_twice_under_chaos(
    tmp_path: Path, pg_url: str, durable_redis: RedisServer, request: pytest.FixtureRequest
) -> None:
    rng = random.Random(SEED)
    figures = Figures(jobs=JOBS)
    settings = make_settings(
        tmp_path,
        MEDIAJOBS_DATABASE_URL=pg_url,
        CELERY_BROKER_URL=durable_redis.url,
        MEDIAJOBS_LEASE_SECONDS=3,
        MEDIAJOBS_HEARTBEAT_SECONDS=0.5,
        MEDIAJOBS_MAINTENANCE_INTERVAL=0.5,
        MEDIAJOBS_MAX_RETRIES=3,
    )
    # Recovery runs with the production defaults: no shortened re-dispatch or visibility timeout
    # (a 15 s re-dispatch here once hid a 15-minute stall that the defaults cause).
    defaults = Settings.model_fields
    assert settings.redispatch_after_seconds == defaults["redispatch_after_seconds"].default
    assert settings.broker_visibility_timeout == defaults["broker_visibility_timeout"].default
    engine = create_db_engine(pg_url, pool_size=10)
    request.addfinalizer(engine.dispose)
    store = JobStore(engine, pipelines=shipped_pipelines(noop=True))
    clip = speak(CLIP_TEXT, tmp_path / "clip.wav")
    workers: list[WorkerProcess] = []
    serial = 0

    def new_worker() -> WorkerProcess:
        nonlocal serial
        serial += 1
        name = f"chaos-w{serial}"
        worker = WorkerProcess(settings, tmp_path / f"{name}.log", extra_env={"MEDIAJOBS_WORKER_NAME": name})
        worker.name = name  # type: ignore[attr-defined]
        workers.append(worker)
        return worker.start()

    started = time.monotonic()
    with TestClient(create_app(settings)) as api:
        authorize(api, store)
        try:
            with clip.open("rb") as fh:
                upload = api.post("/api/v1/uploads", files={"file": ("clip.wav", fh, "audio/wav")}).json()
            job_ids = []
            for _ in range(JOBS):
                response = api.post(
                    "/api/v1/jobs", json={"pipeline": "transcribe", "source": upload["source"]}
                )
                assert response.status_code == 202, response.text
                job_ids.append(response.json()["id"])
            live = [new_worker() for _ in range(WORKERS)]

            redis_restart_at = JOBS // 3
            postgres_cut_at = (2 * JOBS) // 3
            next_kill = time.monotonic() + KILL_EVERY
            while True:
                done = _ended(store)
                if done >= JOBS:
                    break
                assert time.monotonic() - started < DEADLINE, (
                    f"seed {SEED}: only {done}/{JOBS} ended in {DEADLINE} s; the rest: {_stalled(store)}"
                )
                if figures.redis_restarts == 0 and done >= redis_restart_at:
                    durable_redis.kill()
                    durable_redis.start()
                    figures.redis_restarts += 1
                if figures.postgres_cuts == 0 and done >= postgres_cut_at:
                    _cut_postgres(pg_url)
                    figures.postgres_cuts += 1
                if time.monotonic() >= next_kill:
                    victim = live.pop(rng.randrange(len(live)))
                    running = _running_stages(store, victim.name)  # type: ignore[attr-defined]
                    victim.kill()
                    killed_at = time.time()
                    figures.kills += 1
                    figures.killed_stages += [(job, stage, killed_at) for job, stage in running]
                    live.append(new_worker())
                    next_kill = time.monotonic() + KILL_EVERY
                time.sleep(0.2)  # the supervisor's polling interval (the loop itself has a deadline)
        finally:
            for worker in workers:
                worker.stop()
    figures.wall_seconds = time.monotonic() - started
    _check(store, job_ids, figures)


@pytest.fixture(autouse=True)
def _collect_cut_connections() -> Iterator[None]:
    yield
    gc.collect()  # the connections PostgreSQL cut, collected while this module's warning filters apply


def _check(store: JobStore, job_ids: list[str], figures: Figures) -> None:
    problems: list[str] = []
    for raw in job_ids:
        job_id = uuid.UUID(raw)
        job = store.jobs.get_job(job_id)
        if job.status.value != "succeeded":
            problems.append(f"{job_id}: {job.status.value} {job.error}")
        finals = [e for e in store.events.job_events(job_id) if e.final]
        if len(finals) != 1:
            problems.append(f"{job_id}: {len(finals)} completion events")
        attempts = store.jobs.list_attempts(job_id)
        for stage in ("ingest", "normalize", "transcribe"):
            mine = [a for a in attempts if a.stage == stage]
            succeeded = [a for a in mine if a.outcome == "succeeded"]
            if len(succeeded) != 1:
                problems.append(f"{job_id}/{stage}: {len(succeeded)} successful attempts")
                continue
            committed = succeeded[0].finished_at
            assert committed is not None
            later = [a for a in mine if a.started_at > committed]
            if later:
                problems.append(f"{job_id}/{stage}: ran again after its checkpoint was committed")
    for job, stage, killed_at in figures.killed_stages:
        attempts = [a for a in store.jobs.list_attempts(uuid.UUID(job)) if a.stage == stage]
        after = [a.started_at.timestamp() for a in attempts if a.started_at.timestamp() > killed_at]
        requeued = [
            e.at.timestamp()
            for e in store.events.job_events(uuid.UUID(job))
            if e.stage == stage and e.stage_status == "queued" and e.at.timestamp() > killed_at
        ]
        if after:
            figures.recoveries.append(min(after) - killed_at)
        if after or requeued:
            figures.redispatches.append(min(after + requeued) - killed_at)
    recoveries = sorted(figures.recoveries)
    p95 = recoveries[int(0.95 * (len(recoveries) - 1))] if recoveries else 0.0
    report = {
        "seed": SEED,
        "jobs": figures.jobs,
        "workers": WORKERS,
        "kills": figures.kills,
        "stages_killed_mid_run": len(figures.killed_stages),
        "redis_restarts": figures.redis_restarts,
        "postgres_connection_cuts": figures.postgres_cuts,
        "redispatch_seconds_max": round(max(figures.redispatches, default=0.0), 2),
        "recovery_seconds_max": round(max(recoveries, default=0.0), 2),
        "recovery_seconds_p95": round(p95, 2),
        "recovery_seconds_median": round(statistics.median(recoveries), 2) if recoveries else 0.0,
        "wall_seconds": round(figures.wall_seconds, 1),
        "problems": len(problems),
        "at": datetime.now().isoformat(timespec="seconds"),
    }
    print("\nCHAOS " + json.dumps(report))
    out = os.environ.get("MEDIAJOBS_CHAOS_REPORT")
    if out:
        Path(out).write_text(json.dumps(report, indent=2))
    assert not problems, "\n".join(problems[:50])
    assert figures.kills > 0
