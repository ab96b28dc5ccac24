"""What one statement costs through SQLAlchemy Core against psycopg directly, and a claim's cost.

    .venv/bin/python -m bench.statement_overhead [--n 3000] [--admin-url postgresql://...]

A scratch PostgreSQL database with the product's schema; one job with one stage row. Each variant
runs the same statement `--n` times on one connection inside one transaction (so no commit is
timed), interleaved in rounds so that the machine's noise falls on each alike:

- *core*: the hot statements as the store sends them, built once (`conn.execute(stmt, params)`);
- *driver sql*: `conn.exec_driver_sql` (no compilation, still SQLAlchemy's cursor result);
- *psycopg*: the DBAPI cursor of the same connection (`cursor.execute`, `fetchall`).

And a stage's own store calls, the one-statement claim and checkpoint (store/fat.py) against the
statement-by-statement path (`Stages.one_statement = False`, what SQLite runs), on `--jobs` no-op jobs
each, interleaved: a claim, and the completion of the job's only stage (the job succeeds).

Two statements: a primary-key read of the stage rows (`load_runs`'s, without its mapping), and the
fenced stage update (a write matched by the primary key, `FENCED_UPDATE`). Figures are microseconds
per execution: wall time and this process's CPU time (the database server's own CPU is not in it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text

from mediajobs.domain import LOCAL_USER_ID
from mediajobs.pipelines import get_pipeline, shipped_pipelines
from mediajobs.store import Claim, JobStore, create_db_engine, migrate
from mediajobs.store.claims import FENCED_UPDATE
from mediajobs.store.jobs import _RUNS
from mediajobs.store.tables import Base

from .sections import scratch_database

READ_SQL = "SELECT * FROM stage_runs WHERE job_id = %(job)s ORDER BY position"
UPDATE_SQL = (
    "UPDATE stage_runs SET updated_at = %(now)s WHERE job_id = %(job)s AND name = %(stage)s "
    "AND fence = %(fence)s AND status = 'running'"
)


def _seed(conn: Connection) -> uuid.UUID:
    job = uuid.uuid4()
    now = datetime.now(UTC)
    conn.execute(
        text("INSERT INTO users (id, name, tier, is_admin, created_at) VALUES ('u', 'u', 'free', false, :t)"),
        {"t": now},
    )
    conn.execute(
        text(
            "INSERT INTO jobs (id, owner_id, pipeline, source, options, status, progress, lane, "
            "event_seq, manual_retries, created_at, updated_at) VALUES (:id, 'u', 'noop', 'x', '{}', "
            "'running', 0, 'standard', 0, 0, :now, :now)"
        ),
        {"id": job, "now": now},
    )
    conn.execute(
        text(
            "INSERT INTO stage_runs (job_id, name, kind, run, position, status, attempts, budget_start, "
            "progress, fence, updated_at) VALUES (:id, 'noop', 'noop', '', 0, 'running', 1, 0, 0, 1, :now)"
        ),
        {"id": job, "now": now},
    )
    return job


def _timed(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    return (time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6


def measure(url: str, n: int, rounds: int) -> dict[str, tuple[float, float]]:
    engine = create_db_engine(url, pool_size=1)
    Base.metadata.create_all(engine)
    results: dict[str, list[tuple[float, float]]] = {}
    with engine.begin() as conn:
        job = _seed(conn)
        now = datetime.now(UTC)
        core_params = {"f_job": job, "f_stage": "noop", "f_fence": 1, "updated_at": now}
        raw_params = {"job": job, "stage": "noop", "fence": 1, "now": now}
        cursor = conn.connection.cursor()

        def raw(sql: str, fetch: bool) -> Callable[[], Any]:
            def run() -> Any:
                cursor.execute(sql, raw_params)
                return cursor.fetchall() if fetch else cursor.rowcount

            return run

        variants: dict[str, Callable[[], Any]] = {
            "read: core": lambda: conn.execute(_RUNS, {"job_id": job}).all(),
            "read: driver sql": lambda: conn.exec_driver_sql(READ_SQL, raw_params).all(),
            "read: psycopg": raw(READ_SQL, fetch=True),
            "update: core": lambda: conn.execute(FENCED_UPDATE, core_params).rowcount,
            "update: driver sql": lambda: conn.exec_driver_sql(UPDATE_SQL, raw_params).rowcount,
            "update: psycopg": raw(UPDATE_SQL, fetch=False),
        }
        for fn in variants.values():  # warm up: statements prepared (psycopg's threshold), caches filled
            _timed(fn, 20)
        for _ in range(rounds):
            for name, fn in variants.items():
                results.setdefault(name, []).append(_timed(fn, n))
    engine.dispose()
    return {
        name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        for name, runs in results.items()
    }


def _stage_round(store: JobStore, jobs: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """Claim, then complete, `jobs` new 1-stage no-op jobs: (claim, complete) figures per job."""
    pipeline = get_pipeline("noop")
    stage = pipeline.stages[0].name
    left = iter(
        [
            store.jobs.create_job(owner_id=LOCAL_USER_ID, pipeline=pipeline, source="noop://x", options={})
            for _ in range(jobs)
        ]
    )
    claims: list[Claim] = []

    def claim_next() -> None:
        taken = store.stages.claim_stage(next(left)[0].id, stage, worker="w", lease_seconds=30)
        assert isinstance(taken, Claim)
        claims.append(taken)

    claimed = _timed(claim_next, jobs)
    done = iter(claims)
    return claimed, _timed(lambda: store.stages.complete_stage(next(done), {}), jobs)


def measure_stage(url: str, jobs: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Per claim and per completion of a 1-stage no-op job: both paths, `rounds` interleaved runs."""
    engine = create_db_engine(url, pool_size=2)
    migrate(engine)
    store = JobStore(engine, pipelines=shipped_pipelines(noop=True))
    results: dict[str, list[tuple[float, float]]] = {}
    for _ in range(rounds):
        for one_statement in (True, False):
            store.stages.one_statement = one_statement
            path = "one statement" if one_statement else "statement by statement"
            claimed, completed = _stage_round(store, jobs)
            results.setdefault(f"claim: {path}", []).append(claimed)
            results.setdefault(f"complete: {path}", []).append(completed)
    engine.dispose()
    return {
        name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        for name, runs in results.items()
    }


def report(figures: dict[str, tuple[float, float]]) -> str:
    lines = ["| statement: path | wall us per execution | client CPU us per execution |", "|---|---|---|"]
    lines += [f"| {name} | {wall:.0f} | {cpu:.0f} |" for name, (wall, cpu) in figures.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("MEDIAJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    with scratch_database(args.admin_url) as url:
        figures = measure(url, args.n, args.rounds)
    with scratch_database(args.admin_url) as url:
        figures.update(measure_stage(url, args.jobs, args.rounds))
    print(report(figures))


if __name__ == "__main__":
    main()
