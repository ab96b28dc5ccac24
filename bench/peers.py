"""The peers mediajobs is measured against, wired the way a team would wire them by hand.

    raw        Celery alone: `apply_async` of a no-op task; the task INCRs a Redis counter
    handwired  FastAPI POST -> INSERT a row -> `apply_async` -> a Celery task UPDATEs the row

Both use the settings mediajobs' workers use (JSON, acks_late, reject_on_worker_lost, prefetch 1,
prefork pool, the same concurrency), on the same Redis and PostgreSQL, each in a database and Redis
database of its own. Configured by environment: BENCH_BROKER (Redis URL), BENCH_DB (PostgreSQL URL),
BENCH_QUEUE (queue name).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import redis
from celery import Celery
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Column, DateTime, MetaData, String, Table, create_engine, func, insert, update
from sqlalchemy.dialects.postgresql import UUID

BROKER = os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/12")
DATABASE = os.environ.get("BENCH_DB", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
QUEUE = os.environ.get("BENCH_QUEUE", "bench")
COUNTER = f"{QUEUE}:done"

CELERY_SETTINGS: dict[str, Any] = dict(
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
)


def _celery(name: str) -> Celery:
    app = Celery(name, broker=BROKER)
    app.conf.update(CELERY_SETTINGS)
    return app


# -- raw Celery ---------------------------------------------------------------------------------------

raw_app = _celery("bench-raw")
_redis: redis.Redis | None = None


@raw_app.task(name="bench.raw.noop")  # type: ignore[untyped-decorator]
def raw_noop() -> None:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(BROKER)
    _redis.incr(COUNTER)


# -- hand-wired FastAPI + Celery ---------------------------------------------------------------------

metadata = MetaData()
hw_jobs = Table(
    "hw_jobs",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
)
handwired_celery = _celery("bench-handwired")
_engine = None


def engine() -> Any:
    global _engine
    if _engine is None:
        _engine = create_engine(DATABASE, pool_size=10, max_overflow=10)
    return _engine


@handwired_celery.task(name="bench.handwired.run")  # type: ignore[untyped-decorator]
def handwired_run(job_id: str) -> None:
    with engine().begin() as conn:
        conn.execute(
            update(hw_jobs)
            .where(hw_jobs.c.id == uuid.UUID(job_id))
            .values(status="done", finished_at=func.now())
        )


handwired_api = FastAPI()


def _submit() -> str:
    job_id = uuid.uuid4()
    with engine().begin() as conn:
        conn.execute(insert(hw_jobs).values(id=job_id, status="queued"))
    handwired_run.apply_async(args=[str(job_id)])
    return str(job_id)


@handwired_api.post("/jobs", status_code=202)
async def submit() -> dict[str, str]:
    return {"id": await run_in_threadpool(_submit)}


@handwired_api.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def create_tables() -> None:
    metadata.create_all(engine())


__all__ = ["COUNTER", "create_tables", "handwired_api", "handwired_celery", "hw_jobs", "raw_app", "raw_noop"]
