"""The job store on real PostgreSQL: races between runners and between dispatchers."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine

from mediajobs.domain import JobStatus
from mediajobs.pipelines import get_pipeline, shipped_pipelines
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
    job, _ = store.jobs.create_job(
        owner_id="local",
        pipeline=pipeline,
        source="https://example.com/a.wav",
        options=pipeline.validate_options({}),
    )
    return job.id


def test_database_is_at_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()


def test_concurrent_claims_of_one_stage_let_exactly_one_runner_in(engine: Engine) -> None:
    store = JobStore(engine, pipelines=shipped_pipelines(noop=True))
    job_ids = [_submit(store) for _ in range(10)]
    results: list[Claim | Refusal] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def claim_all(worker: str) -> None:
        barrier.wait()
        for job_id in job_ids:
            outcome = store.stages.claim_stage(job_id, "ingest", worker=worker, lease_seconds=30)
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
    assert {store.jobs.get_job(j).status for j in job_ids} == {JobStatus.RUNNING}


def test_parallel_dispatchers_publish_each_message_once(engine: Engine) -> None:
    store = JobStore(engine, pipelines=shipped_pipelines(noop=True))
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
    assert store.outbox.pending_outbox_count() == 0


def test_fenced_writes_of_a_superseded_runner_fail(engine: Engine) -> None:
    from datetime import timedelta

    from mediajobs.errors import LeaseLost
    from mediajobs.store import utcnow

    now = [utcnow()]
    store = JobStore(engine, clock=lambda: now[0], pipelines=shipped_pipelines(noop=True))
    job_id = _submit(store)
    first = store.stages.claim_stage(job_id, "ingest", worker="a", lease_seconds=5)
    assert isinstance(first, Claim)
    now[0] += timedelta(seconds=6)
    second = store.stages.claim_stage(job_id, "ingest", worker="b", lease_seconds=5)
    assert isinstance(second, Claim)
    assert second.fence == first.fence + 1
    with pytest.raises(LeaseLost):
        store.stages.complete_stage(first, {"media_path": "stale"})
    job = store.stages.complete_stage(second, {"media_path": "fresh"})
    assert job.stage("ingest").output == {"media_path": "fresh"}
    assert [a.outcome for a in store.jobs.list_attempts(job_id)] == ["lost", "succeeded"]


def test_migrations_match_the_table_definitions(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from mediajobs.store.tables import metadata

    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_a_pooled_connection_the_server_closed_is_replaced_before_use(engine: Engine) -> None:
    """No `SELECT 1` per checkout: a connection whose backend was terminated while it sat in the pool
    is noticed from its socket and replaced, so the next read and write still work."""
    store = JobStore(engine, pipelines=shipped_pipelines(noop=True))
    job_id = _submit(store)
    with engine.connect() as conn:  # one connection, back in the pool after this block
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    with psycopg_admin(engine) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while _backend_alive(admin, pid):  # poll with a deadline: the backend exits on the signal
            assert time.monotonic() < deadline, f"backend {pid} still there"
    assert store.jobs.get_job(job_id).status is JobStatus.QUEUED  # a read on a new connection
    assert store.jobs.request_cancel(job_id).status is JobStatus.CANCELLED  # and a write
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != pid


def test_connections_probe_a_silent_network_with_tcp_keepalives(engine: Engine) -> None:
    """A worker cut off from the database (no FIN, no RST) notices within about 25 s instead of
    the kernel's two hours: the store's connections carry TCP keepalives and a user timeout."""
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        sock = socket.socket(fileno=os.dup(raw.fileno()))
        try:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 10
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 5
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 30000
        finally:
            sock.close()


def _backend_alive(admin: psycopg.Connection, pid: int) -> bool:
    row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return row is not None and row[0] > 0


def psycopg_admin(engine: Engine) -> psycopg.Connection:
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(url, autocommit=True)
