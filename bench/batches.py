"""Batches against single submits, and fairness while a big batch runs (issue 26).

    .venv/bin/python -m bench.batches [--items 1000] [--samples 20] [--write]

mediajobs on PostgreSQL and Redis (an API process and a worker of 2 pool processes, as `bench/run`
starts it), no-op jobs. Measured in one run:
- creating a batch of N items (one request, one transaction) against N single submits of the same
  items from one client: the seconds of each and their ratio;
- N no-op jobs end to end as one batch against the same N submitted one by one: jobs per second;
- while a user's N-item batch runs (each item working 50 ms), how long a free user's single job waits
  from its submit to its first stage's start (standard lane), and a pro user's (express lane): p50,
  p95 and max over `--samples` each.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import text

from mediajobs.domain import Tier
from mediajobs.pipelines import shipped_pipelines
from mediajobs.store import JobStore, create_db_engine

from .sections import write_section
from .systems import MediaJobs, settle

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def _client(system: MediaJobs, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{system.port}", timeout=120, headers={"Authorization": f"Bearer {key}"}
    )


def _user(system: MediaJobs, name: str, tier: Tier) -> str:
    engine = create_db_engine(system.db_url)
    try:
        store = JobStore(engine, pipelines=shipped_pipelines(noop=True))
        user = store.users.create_user(name, tier=tier)
        _, key = store.users.create_key(user.id, name="bench")
        return key
    finally:
        engine.dispose()


def _items(count: int, work: float = 0.0) -> list[dict[str, object]]:
    return [{"source": f"noop://{i}", "options": {"work_seconds": work}} for i in range(count)]


def creation(system: MediaJobs, count: int) -> tuple[float, float]:
    """(seconds of one batch request, seconds of `count` single submits)."""
    with _client(system, system.key) as client:
        started = time.perf_counter()
        response = client.post("/api/v1/batches", json={"pipeline": "noop", "items": _items(count)})
        batch_seconds = time.perf_counter() - started
        assert response.status_code == 202, response.text
        started = time.perf_counter()
        for item in _items(count):
            assert client.post("/api/v1/jobs", json={"pipeline": "noop", **item}).status_code == 202
        single_seconds = time.perf_counter() - started
    settle(system, 2 * count, timeout=600)
    return batch_seconds, single_seconds


def throughput(system: MediaJobs, count: int) -> tuple[float, float]:
    """(jobs/s as one batch, jobs/s submitted one by one), each from its first submit to its last end."""
    done = system.done()
    with _client(system, system.key) as client:
        started = time.perf_counter()
        assert (
            client.post("/api/v1/batches", json={"pipeline": "noop", "items": _items(count)}).status_code
            == 202
        )
        batch_rate = count / (settle(system, done + count, timeout=600) - started)
        started = time.perf_counter()
        for item in _items(count):
            assert client.post("/api/v1/jobs", json={"pipeline": "noop", **item}).status_code == 202
        single_rate = count / (settle(system, done + 2 * count, timeout=600) - started)
    return batch_rate, single_rate


def waits(system: MediaJobs, count: int, samples: int) -> dict[str, list[float]]:
    """Seconds from submit to first stage start of single jobs while a big batch runs."""
    bulk = _user(system, "bulk", Tier.PRO)
    keys = {
        "free (standard lane)": _user(system, "free", Tier.FREE),
        "pro (express lane)": _user(system, "pro", Tier.PRO),
    }
    engine = create_db_engine(system.db_url)
    try:
        with _client(system, bulk) as client:
            body = {"pipeline": "noop", "items": _items(count, work=0.05)}
            assert client.post("/api/v1/batches", json=body).status_code == 202
        time.sleep(2)  # the batch's items fill the workers (a benchmark's warm-up, not a test's wait)
        found: dict[str, list[float]] = {name: [] for name in keys}
        for _ in range(samples):
            for name, key in keys.items():
                with _client(system, key) as client:
                    job_id = client.post(
                        "/api/v1/jobs", json={"pipeline": "noop", "source": "noop://x"}
                    ).json()["id"]
                found[name].append(_started_after(engine, job_id))
        return found
    finally:
        engine.dispose()


def _started_after(engine: object, job_id: str, timeout: float = 120) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:  # type: ignore[attr-defined]
            row = conn.execute(
                text("SELECT created_at, started_at FROM jobs WHERE id = :id"), {"id": job_id}
            ).one()
        if row.started_at is not None:
            created: datetime = row.created_at
            return float((row.started_at - created).total_seconds())
        time.sleep(0.02)  # polling the database for the start
    raise SystemExit(f"job {job_id} did not start within {timeout} s")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="record the table in docs/benchmarks.md")
    args = parser.parse_args()
    system = MediaJobs(name="mediajobs", pipeline="noop")
    system.start()
    try:
        batch_s, single_s = creation(system, args.items)
        batch_rate, single_rate = throughput(system, args.items)
        found = waits(system, args.items, args.samples)
    finally:
        system.stop()
    ratio = batch_rate / single_rate
    lines = [
        f"Command: `.venv/bin/python -m bench.batches --items {args.items} --samples {args.samples}` "
        f"({datetime.now().date()}).",
        "",
        "| measure | figure | target | met |",
        "|---|---|---|---|",
        f"| one {args.items}-item batch request | {batch_s:.2f} s ({single_s:.1f} s for {args.items} single "
        f"submits from one client: {single_s / batch_s:.0f}x) | <= 2 s | {'yes' if batch_s <= 2 else 'NO'} |",
        f"| {args.items} no-op jobs end to end, as a batch / one by one | {batch_rate:.0f} / "
        f"{single_rate:.0f} jobs/s ({ratio:.2f}x) | >= 0.9x | {'yes' if ratio >= 0.9 else 'NO'} |",
    ]
    for name, values in found.items():
        target = 1.0 if name.startswith("pro") else 2.0
        p95 = _pct(values, 0.95)
        lines.append(
            f"| a {name} job's wait to start while a {args.items}-item batch runs: p50 / p95 / max | "
            f"{_pct(values, 0.5):.2f} / {p95:.2f} / {max(values):.2f} s | p95 <= {target:.0f} s | "
            f"{'yes' if p95 <= target else 'NO'} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section(DOC, "batches", "Batches", table)


if __name__ == "__main__":
    main()
