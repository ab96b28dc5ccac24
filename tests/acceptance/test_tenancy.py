"""Users, lanes and fair admission with real Redis, PostgreSQL and Celery workers.

The jobs are `noop` jobs (the measurement pipeline, on for these tests): the whole path of a job, with
stages that only wait, so the tests measure scheduling, not ffmpeg.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import func, select

from helpers.processes import WorkerProcess, wait_for
from helpers.settings import make_settings
from helpers.stack import Stack, open_stack
from mediajobs.domain import Tier
from mediajobs.queue.config import celery_config
from mediajobs.queue.schedule import PERIODIC
from mediajobs.registry import build_registry
from mediajobs.store.tables import JobRow, StageRunRow, TaskRunRow

NOOP = {"pipeline": "noop", "source": "noop://test"}
OPEN_LIMITS = {"free": {"submits_per_minute": None, "monthly_jobs": None}}  # 200 submits in a few seconds


@pytest.fixture
def tenants(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[Stack]:
    settings = make_settings(
        tmp_path,
        MEDIAJOBS_DATABASE_URL=pg_url,
        CELERY_BROKER_URL=redis_url,
        MEDIAJOBS_NOOP_PIPELINES=True,
        MEDIAJOBS_TIER_LIMITS=OPEN_LIMITS,
    )
    with open_stack(settings, tmp_path) as stack:
        yield stack


def key_of(stack: Stack, name: str, tier: Tier) -> dict[str, str]:
    user = stack.store.users.create_user(name, tier=tier)
    _, key = stack.store.users.create_key(user.id)
    return {"Authorization": f"Bearer {key}"}


def submit(stack: Stack, headers: dict[str, str], **options: Any) -> str:
    response = stack.api.post("/api/v1/jobs", json={**NOOP, "options": options}, headers=headers)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def first_start(stack: Stack, job_id: str) -> datetime | None:
    attempts = stack.store.jobs.list_attempts(uuid.UUID(job_id))
    return attempts[0].started_at if attempts else None


def test_a_paying_users_job_and_a_second_free_users_job_do_not_wait_behind_a_backlog(tenants: Stack) -> None:
    alice = key_of(tenants, "alice", Tier.FREE)
    pro = key_of(tenants, "paula", Tier.PRO)
    bob = key_of(tenants, "bob", Tier.FREE)
    backlog = [submit(tenants, alice, work_seconds=0.2) for _ in range(200)]
    tenants.worker(concurrency=1)  # one worker process, serving every lane
    wait_for(lambda: first_start(tenants, backlog[2]), timeout=60, message="alice's backlog running")

    p_submitted = time.time()
    paula_job = submit(tenants, pro, work_seconds=0.2)
    b_submitted = time.time()
    bob_job = submit(tenants, bob, work_seconds=0.2)
    wait_for(lambda: first_start(tenants, bob_job), timeout=120, message="bob's job started")

    p_start, b_start = first_start(tenants, paula_job), first_start(tenants, bob_job)
    assert p_start is not None
    assert b_start is not None
    starts = [first_start(tenants, job) for job in backlog]
    alice_between = [s for s in starts if s is not None and p_submitted < s.timestamp() < p_start.timestamp()]
    alice_before_bob = sum(1 for s in starts if s is not None and s < b_start)
    print(
        f"\npro job started {p_start.timestamp() - p_submitted:.2f} s after its submit "
        f"({len(alice_between)} of alice's jobs started in between); free job of bob started "
        f"{b_start.timestamp() - b_submitted:.2f} s after its submit, after {alice_before_bob} of alice's 200"
    )
    assert alice_between == []  # the express lane is taken first
    assert alice_before_bob < 100  # bob's one job did not wait for half of alice's backlog
    job = tenants.api.get(f"/api/v1/jobs/{backlog[-1]}", headers=alice).json()
    assert job["waiting"]["reason"] == "user_concurrency"  # alice's backlog waits in the database
    alice_id = tenants.api.get("/api/v1/me", headers=alice).json()["id"]
    with tenants.store.engine.connect() as conn:
        in_broker = conn.execute(
            select(func.count())
            .select_from(StageRunRow)
            .join(JobRow, JobRow.id == StageRunRow.job_id)
            .where(JobRow.owner_id == alice_id, StageRunRow.status.in_(("queued", "running")))
        ).scalar_one()
    # At most alice's two (the free tier's concurrency), however many of hers wait: the broker stays
    # short. (Counting everyone's raced with bob's job, which may still be running.)
    assert in_broker <= 2


def test_workers_killed_holding_messages_lose_no_job_with_the_default_recovery(tenants: Stack) -> None:
    defaults = type(tenants.settings).model_fields
    assert tenants.settings.redispatch_after_seconds == defaults["redispatch_after_seconds"].default
    assert tenants.settings.broker_visibility_timeout == defaults["broker_visibility_timeout"].default
    admin = tenants.api.headers  # the local admin: enterprise, all 20 jobs admitted at once
    names = iter(f"w{n}" for n in range(1, 10))

    def start_worker() -> tuple[str, WorkerProcess]:
        name = next(names)
        return name, tenants.worker(concurrency=2, extra_env={"MEDIAJOBS_WORKER_NAME": name})

    def running_on(name: str) -> list[tuple[str, str]]:
        with tenants.store.engine.connect() as conn:
            rows = conn.execute(
                select(StageRunRow.job_id, StageRunRow.name).where(
                    StageRunRow.status == "running", StageRunRow.lease_owner.like(f"{name}:%")
                )
            ).all()
        return [(str(r.job_id), r.name) for r in rows]

    # both ready before the jobs come, so both hold messages when the first is killed (a worker that
    # started later, on a slow machine, found the other had drained the queue)
    first = [start_worker(), start_worker()]
    jobs = [submit(tenants, dict(admin), work_seconds=1.0) for _ in range(20)]
    killed: list[tuple[str, float]] = []
    for name, worker in first:  # each killed while it holds messages, one right after the other
        held = wait_for(lambda n=name: running_on(n), timeout=60, message=f"{name} running stages")
        worker.kill()
        killed += [(job, time.time()) for job, _ in held]  # type: ignore[union-attr]
    start_worker()
    start_worker()

    for job in jobs:
        final = tenants.wait_job(job, timeout=180)
        assert final["status"] == "succeeded", final
        succeeded = [a for a in final["attempts"] if a["outcome"] == "succeeded"]
        assert len(succeeded) == 1
    recoveries = []
    for job, killed_at in killed:
        attempts = tenants.store.jobs.list_attempts(uuid.UUID(job))
        later = [a.started_at.timestamp() for a in attempts if a.started_at.timestamp() > killed_at]
        recoveries.append(min(later) - killed_at)
    longest = max(recoveries)
    print(f"\nlongest time from a kill to the stage's next start: {longest:.1f} s ({len(killed)} stages)")
    assert max(recoveries) < 60


def test_a_periodic_task_sent_twice_runs_once(tenants: Stack) -> None:
    tenants.worker(concurrency=2)
    sender = Celery("test-beat", broker=tenants.settings.resolved_broker_url)
    sender.conf.update(celery_config(tenants.settings, build_registry(tenants.settings).queues()))
    queue = f"{tenants.settings.queue_prefix}maintenance"
    for _ in range(2):  # two beat processes started by mistake
        sender.send_task(PERIODIC, args=["usage"], queue=queue, routing_key=queue)

    def finished() -> list[Any]:
        with tenants.store.engine.connect() as conn:
            return list(conn.execute(select(TaskRunRow.__table__).where(TaskRunRow.task == "usage")).all())

    runs = wait_for(
        lambda: [r for r in finished() if r.finished_at is not None], timeout=60, message="usage ran"
    )
    assert len(runs) == 1  # type: ignore[arg-type]
    worker_log = tenants.workers[0].log()
    wait_for(
        lambda: "already ran; skipping" in tenants.workers[0].log(), timeout=30, message="second skipped"
    )
    assert "periodic usage for" in worker_log or "periodic usage for" in tenants.workers[0].log()
