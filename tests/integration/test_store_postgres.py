"""The job store on real PostgreSQL: races between runners and between dispatchers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from mediajobs.domain import JobStatus, get_pipeline
from mediajobs.queue.dispatcher import Dispatcher
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.store import Claim, JobStore, Refusal, create_db_engine, current_revision, head_revision


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = create_db_engine(pg_url, pool_size=10)
    yield engine
    engine.dispose()


def _submit(store: JobStore) -> uuid.UUID:
    pipeline = get_pipeline("transcribe")
    job, _ = store.create_job(
        owner_id="local",
        pipeline=pipeline,
        source="https://example.com/a.wav",
        options=pipeline.validate_options({}),
    )
    return job.id


def test_database_is_at_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()


def test_concurrent_claims_of_one_stage_let_exactly_one_runner_in(engine: Engine) -> None:
    store = JobStore(engine)
    job_ids = [_submit(store) for _ in range(10)]
    results: list[Claim | Refusal] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def claim_all(worker: str) -> None:
        barrier.wait()
        for job_id in job_ids:
            outcome = store.claim_stage(job_id, "ingest", worker=worker, lease_seconds=30)
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=claim_all, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claims = [r for r in results if isinstance(r, Claim)]
    assert sorted(c.job.id for c in claims) == sorted(job_ids)  # one winner per job
    assert all(r is Refusal.LEASED for r in results if not isinstance(r, Claim))
    assert {store.get_job(j).status for j in job_ids} == {JobStatus.RUNNING}


def test_parallel_dispatchers_publish_each_message_once(engine: Engine) -> None:
    store = JobStore(engine)
    job_ids = {_submit(store) for _ in range(300)}
    publisher = InMemoryPublisher()
    dispatchers = [Dispatcher(store, publisher, batch_size=25) for _ in range(4)]
    threads = [threading.Thread(target=d.dispatch_due) for d in dispatchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    published = [m.job_id for m in publisher.published]
    assert len(published) == len(set(published)) == 300  # list appends are atomic under the GIL
    assert set(published) == job_ids
    assert store.pending_outbox_count() == 0


def test_fenced_writes_of_a_superseded_runner_fail(engine: Engine) -> None:
    from datetime import timedelta

    from mediajobs.errors import LeaseLost
    from mediajobs.store import utcnow

    now = [utcnow()]
    store = JobStore(engine, clock=lambda: now[0])
    job_id = _submit(store)
    first = store.claim_stage(job_id, "ingest", worker="a", lease_seconds=5)
    assert isinstance(first, Claim)
    now[0] += timedelta(seconds=6)
    second = store.claim_stage(job_id, "ingest", worker="b", lease_seconds=5)
    assert isinstance(second, Claim)
    assert second.fence == first.fence + 1
    with pytest.raises(LeaseLost):
        store.complete_stage(first, {"media_path": "stale"})
    job = store.complete_stage(second, {"media_path": "fresh"})
    assert job.stage("ingest").output == {"media_path": "fresh"}
    assert [a.outcome for a in store.list_attempts(job_id)] == ["lost", "succeeded"]


def test_migrations_match_the_table_definitions(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from mediajobs.store.tables import metadata

    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
