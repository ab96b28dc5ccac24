"""The fat statements of store/fat.py on PostgreSQL: the claim in one statement, the checkpoint in one.

The store's own tests run on SQLite (tests/unit), where every claim and completion goes statement by
statement. Here the same tests run on PostgreSQL, where the common case goes through the one-statement
claim and checkpoint (and every other case falls back to the general path in the same transaction):
the store's tests (claims, leases, fencing, retries, cancel, reaping), the stage graphs (fan-out,
joins, diamonds) and sticky stages. And the one-statement claim writes and returns exactly what the
statement-by-statement claim does.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import select

from helpers.clock import FakeClock
from mediajobs.domain import LOCAL_USER_ID, ErrorInfo, JobStatus
from mediajobs.pipelines import get_pipeline, shipped_pipelines
from mediajobs.queue.dispatcher import Dispatcher
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.store import Claim, JobStore, create_db_engine
from mediajobs.store.tables import AttemptRow, JobEventRow, JobRow, StageRunRow

UNIT = Path(__file__).resolve().parent.parent / "unit"


def _unit(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"on_postgres_{name}", UNIT / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_store_tests, _graph_tests = _unit("test_store"), _unit("test_store_graphs")
_sticky_tests = _unit("test_sticky_stages")
for _module in (_store_tests, _graph_tests, _sticky_tests):
    globals().update({k: v for k, v in vars(_module).items() if k.startswith("test_")})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(pg_url: str, clock: FakeClock) -> Iterator[JobStore]:
    engine = create_db_engine(pg_url)
    yield JobStore(engine, clock=clock, pipelines=shipped_pipelines(noop=True))
    engine.dispose()


@pytest.fixture
def graphs(tmp_path: Path, pg_url: str, clock: FakeClock) -> Iterator[Any]:
    built = _graph_tests.build(tmp_path, pg_url, clock)
    yield built
    built.store.engine.dispose()


@pytest.fixture
def world(tmp_path: Path, pg_url: str) -> Iterator[Any]:
    store = JobStore(
        create_db_engine(pg_url), pipelines=shipped_pipelines(noop=True), queue_for=_sticky_tests.ROUTE
    )
    publisher = InMemoryPublisher()
    yield _sticky_tests.World(store, publisher, Dispatcher(store, publisher), tmp_path)
    store.engine.dispose()


def _written(store: JobStore, job_id: uuid.UUID) -> dict[str, Any]:
    """What a claim wrote of one job, without the columns that differ between two jobs."""
    skip = {"id", "job_id", "created_at", "updated_at", "source_name"}

    def plain(row: Any) -> dict[str, Any]:
        return {k: v for k, v in row._mapping.items() if k not in skip}

    with store.engine.connect() as conn:
        return {
            "job": plain(conn.execute(select(JobRow.__table__).where(JobRow.id == job_id)).one()),
            "stages": [
                plain(r)
                for r in conn.execute(
                    select(StageRunRow.__table__)
                    .where(StageRunRow.job_id == job_id)
                    .order_by(StageRunRow.position)
                )
            ],
            "attempts": [
                plain(r)
                for r in conn.execute(select(AttemptRow.__table__).where(AttemptRow.job_id == job_id))
            ],
            "events": [
                {k: v for k, v in plain(r).items() if k != "at"}
                for r in conn.execute(
                    select(JobEventRow.__table__)
                    .where(JobEventRow.job_id == job_id)
                    .order_by(JobEventRow.seq)
                )
            ],
        }


def test_the_one_statement_claim_writes_and_returns_what_the_general_path_does(store: JobStore) -> None:
    pipeline = get_pipeline("transcribe")
    jobs = [
        store.jobs.create_job(
            owner_id=LOCAL_USER_ID, pipeline=pipeline, source="https://example.com/a.mp3", options={}
        )[0]
        for _ in range(2)
    ]
    claims: list[Claim] = []
    events = []
    for job, one_statement in zip(jobs, (True, False), strict=True):
        store.stages.one_statement = one_statement
        for stage, output in (("ingest", {"media_key": "k"}), ("normalize", None)):
            with store.db.collecting():
                result = store.stages.claim_stage(job.id, stage, worker="w", lease_seconds=30)
            assert isinstance(result, Claim), result
            if output is not None:
                store.stages.complete_stage(result, output)
        claims.append(result)
        events.append(store.events.job_events(job.id)[-1])

    fat, general = claims
    assert fat.inputs == general.inputs == {"media": {"media_key": "k"}}
    same_job = replace(fat.stage, job_id=general.job.id)
    assert replace(fat, job=general.job, stage=same_job, attempt_id=general.attempt_id) == general
    assert fat.attempt_id > general.attempt_id - 10  # an attempt row's id
    assert fat.job.status is JobStatus.RUNNING
    assert replace(fat.job, id=general.job.id, stages=general.job.stages) == general.job
    assert [replace(s, job_id=general.job.id) for s in fat.job.stages] == list(general.job.stages)
    assert _written(store, jobs[0].id) == _written(store, jobs[1].id)
    assert replace(events[0], id=0, job_id=jobs[1].id) == replace(events[1], id=0)
    assert events[0].message == "attempt 1 started on w"


def test_a_job_writes_the_same_rows_on_postgresql_as_statement_by_statement_on_sqlite(
    pg_url: str, sqlite_url: str
) -> None:
    """Claims, a progress report, a failed attempt retried, completions that hand on and the last one:
    PostgreSQL (fat statements) and SQLite (statement by statement) leave the same rows."""
    written = []
    for url in (pg_url, sqlite_url):
        clock = FakeClock()
        engine = create_db_engine(url)
        store = JobStore(engine, clock=clock, pipelines=shipped_pipelines(noop=True))
        job, _ = store.jobs.create_job(
            owner_id=LOCAL_USER_ID,
            pipeline=get_pipeline("transcribe"),
            source="https://example.com/a.mp3",
            options={},
            idempotency_key="same",
        )

        def claim(stage: str, store: JobStore = store, job_id: uuid.UUID = job.id) -> Claim:
            result = store.stages.claim_stage(job_id, stage, worker="w", lease_seconds=30)
            assert isinstance(result, Claim), result
            return result

        ingest = claim("ingest")
        store.stages.report_progress(ingest, 50.0, "half")
        store.stages.complete_stage(ingest, {"media_key": "k"})
        clock.advance(1)
        store.stages.fail_attempt(claim("normalize"), ErrorInfo(code="x", message="y"), retry_delay=2.0)
        clock.advance(3)
        store.stages.complete_stage(claim("normalize"), {"audio_key": "k"})
        clock.advance(1)
        done = store.stages.complete_stage(claim("transcribe"), {"segments": 1})
        assert done.status is JobStatus.SUCCEEDED
        rows = _written(store, job.id)
        rows["events"] = [{**e, "job_percent": round(e["job_percent"], 6)} for e in rows["events"]]
        written.append(rows)
        engine.dispose()
    on_postgres, on_sqlite = written
    assert on_postgres == on_sqlite
