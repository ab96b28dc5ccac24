"""Admission's look-ups stay cheap under the plan PostgreSQL caches for a prepared statement.

psycopg prepares a statement after a few executions on a connection, and PostgreSQL may then keep
one generic plan for any parameters. With the statuses bound as parameters that plan could not use
the partial index of open jobs and walked every job the user ever had; the statuses are written into
the SQL (`written_in`) so it can. And the look for the oldest waiting stage must stop at the first
one, not read a burst's whole backlog. This forces the generic plan on a user with a long history
and a backlog and checks the plan's shape (the rows it touches), not a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, Select
from sqlalchemy.dialects import postgresql

from mediajobs.domain import FairShare, Tier
from mediajobs.pipelines import shipped_pipelines
from mediajobs.store import JobStore, create_db_engine
from mediajobs.store.load import in_flight

HISTORY = 2000  # finished jobs of the user
BACKLOG = 300  # and jobs of theirs waiting for admission (a burst)


@pytest.fixture
def store(pg_url: str) -> Iterator[JobStore]:
    engine = create_db_engine(pg_url)
    store = JobStore(engine, admission=FairShare(), pipelines=shipped_pipelines(noop=True))
    with _admin(engine) as conn:  # a long history, written directly for speed
        conn.execute(
            "INSERT INTO jobs (id, owner_id, pipeline, source, options, status, lane, progress,"
            " manual_retries, event_seq, created_at, updated_at)"
            " SELECT gen_random_uuid(), 'local', 'noop', 'noop://old', '{}', 'succeeded', 'standard',"
            " 100, 0, 1, now() - interval '1 day' + g * interval '1 second', now()"
            " FROM generate_series(1, %s) g",
            (HISTORY,),
        )
        conn.execute(
            "INSERT INTO stage_runs (job_id, name, kind, run, position, status, attempts, budget_start,"
            " progress, fence, updated_at)"
            " SELECT id, 'noop', 'cpu', 'noop', 0, 'succeeded', 1, 0, 100, 1, now() FROM jobs"
        )
        conn.execute("ANALYZE")
    pipeline = store.pipelines.get_pipeline("noop")
    for _ in range(BACKLOG):  # the first fill the user's slots at submit; the rest wait as `ready`
        store.jobs.create_job(owner_id="local", pipeline=pipeline, source="noop://new", options={})
    yield store
    engine.dispose()


class _Empty:
    """No stage in flight (for the policy's room: the user's whole concurrency)."""

    def in_flight(self, owner_id: str) -> int:
        return 0

    def tier(self, owner_id: str) -> Tier:
        return Tier.ENTERPRISE if owner_id == "local" else Tier.FREE

    def now(self) -> datetime:
        return datetime.now(UTC)


def _admin(engine: Engine) -> psycopg.Connection[Any]:
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(url, autocommit=True, prepare_threshold=None)


def _generic_plan(engine: Engine, query: Select[Any]) -> str:
    """EXPLAIN ANALYZE of `query` prepared and run with the plan cached for any parameters."""
    compiled = query.compile(dialect=postgresql.dialect(paramstyle="numeric_dollar"))
    values = [compiled.params[name] for name in compiled.positiontup or []]
    literals = ", ".join(f"'{v}'" if isinstance(v, str) else str(v) for v in values)
    with _admin(engine) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute(f"PREPARE q AS {compiled}")  # type: ignore[arg-type]
        rows = conn.execute(f"EXPLAIN (ANALYZE, COSTS OFF) EXECUTE q({literals})").fetchall()  # type: ignore[arg-type]
    return "\n".join(row[0] for row in rows)


def test_the_look_for_a_users_oldest_waiting_stage_reads_neither_history_nor_backlog(
    store: JobStore,
) -> None:
    plan = _generic_plan(store.engine, store.admission._waiting("local").limit(1))
    [walk] = [line for line in plan.splitlines() if "ix_jobs_open_owner" in line]
    jobs_read = int(re.search(r"actual time=\S+ rows=(\d+)", walk).group(1))  # type: ignore[union-attr]
    running = store.admission.policy.room("local", _Empty()) + 1  # jobs admitted at submit, + 1
    assert jobs_read <= running + 1, plan  # past the jobs in flight, the first waiting one: it stops
    assert "Sort Key: jobs" not in plan, plan  # no sort of the backlog either (a job's own stages, yes)


def test_counting_a_users_stages_in_flight_skips_finished_stages(store: JobStore) -> None:
    plan = _generic_plan(store.engine, in_flight("local"))
    assert "Seq Scan" not in plan, plan
    assert f"Rows Removed by Filter: {HISTORY}" not in plan, plan
