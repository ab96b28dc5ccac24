"""Express-lane start latency behind a standard backlog: PostgreSQL, Redis, one API, one worker.

    .venv/bin/python -m bench.express_latency            # prints the figures
    .venv/bin/python -m bench.express_latency --write    # and records them in docs/benchmarks.md

20 free users queue 50 `noop` jobs each (a 1,000-job standard backlog, each stage working 0.2 s);
one worker process (`-c 2`) serving every lane works through it; meanwhile a pro user submits one
express job at a time. The figure is the time from the express submit (client side, before the POST)
to its stage's claim (the attempt's start in the database). Target (issue 11): p95 under 1 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from mediajobs.domain import Tier
from mediajobs.launch import settings_env
from mediajobs.pipelines import shipped_pipelines
from mediajobs.settings import Settings
from mediajobs.store import JobStore, create_db_engine, migrate

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- express-latency:begin -->", "<!-- express-latency:end -->"
PG_ADMIN = os.environ.get("MEDIAJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("MEDIAJOBS_TEST_REDIS", "redis://127.0.0.1:6379") + "/13"
TARGET_P95_S = 1.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("a process this benchmark started exited")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # waiting for the server this script started
    raise SystemExit("the API did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--jobs-per-user", type=int, default=50)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--port", type=int, default=8792)
    parser.add_argument("--write", action="store_true", help="record the figures in docs/benchmarks.md")
    args = parser.parse_args()

    db = f"mj_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {db}")  # type: ignore[arg-type]
    db_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + db
    engine = create_db_engine(db_url)
    migrate(engine)
    store = JobStore(engine, pipelines=shipped_pipelines(noop=True))
    free_keys = []
    for n in range(args.users):
        user = store.users.create_user(f"free{n}", tier=Tier.FREE)
        free_keys.append(store.users.create_key(user.id)[1])
    pro = store.users.create_user("pro", tier=Tier.PRO)
    pro_key = store.users.create_key(pro.id)[1]
    data = Path(tempfile.mkdtemp(prefix="mj-bench-"))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, MEDIAJOBS_DATA_DIR=data, MEDIAJOBS_DATABASE_URL=db_url, CELERY_BROKER_URL=REDIS,
        MEDIAJOBS_QUEUE_PREFIX=f"bench{uuid.uuid4().hex[:6]}.", CELERY_LOG_LEVEL="warning",
        MEDIAJOBS_NOOP_PIPELINES=True,
        MEDIAJOBS_TIER_LIMITS={"free": {"submits_per_minute": None, "monthly_jobs": None}},
    )  # fmt: skip
    env = settings_env(settings)
    api = subprocess.Popen(
        [sys.executable, "-m", "mediajobs", "api", "--port", str(args.port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    worker: subprocess.Popen[bytes] | None = None
    base = f"http://127.0.0.1:{args.port}"
    delays: list[float] = []
    try:
        wait_ready(base, api)
        body = {"pipeline": "noop", "source": "noop://bench", "options": {"work_seconds": 0.2}}
        with httpx.Client(base_url=base, timeout=30) as http:
            for _ in range(args.jobs_per_user):
                for key in free_keys:
                    answer = http.post("/api/v1/jobs", json=body, headers={"Authorization": f"Bearer {key}"})
                    assert answer.status_code == 202, answer.text
            worker = subprocess.Popen(
                [sys.executable, "-m", "mediajobs", "worker", "-c", "2"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            pro_headers = {"Authorization": f"Bearer {pro_key}"}
            express = {"pipeline": "noop", "source": "noop://bench", "options": {"work_seconds": 0.05}}
            time.sleep(5)  # let the worker start and the backlog get going (a benchmark's warm-up)
            for _ in range(args.samples):
                submitted = time.time()
                job_id = http.post("/api/v1/jobs", json=express, headers=pro_headers).json()["id"]
                deadline = time.monotonic() + 30
                while True:
                    attempts = store.jobs.list_attempts(uuid.UUID(job_id))
                    if attempts:
                        delays.append(attempts[0].started_at.timestamp() - submitted)
                        break
                    if time.monotonic() > deadline:
                        raise SystemExit("an express job did not start within 30 s")
                    time.sleep(0.01)  # polling the database for the claim
                time.sleep(0.3)  # space the samples out over the backlog
            left = http.get(
                "/api/v1/jobs?status=queued&limit=1", headers={"Authorization": f"Bearer {free_keys[0]}"}
            )
            backlog_left = len(left.json()["jobs"])
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        api.terminate()
        api.wait(timeout=20)
        engine.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")  # type: ignore[arg-type]

    p50, p95 = statistics.median(delays), percentile(delays, 0.95)
    met = "met" if p95 < TARGET_P95_S else "NOT met"
    table = "\n".join(
        [
            f"Command: `.venv/bin/python -m bench.express_latency`; {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {datetime.now(UTC).date()}. One API process, one worker (`-c 2`, "
            "every lane), PostgreSQL and Redis on this machine.",
            "",
            "| backlog | express samples | start latency p50 | p95 | max |",
            "|---|---|---|---|---|",
            f"| {args.users} free users x {args.jobs_per_user} noop jobs (0.2 s each), standard lane "
            f"| {len(delays)} | {p50 * 1000:.0f} ms | {p95 * 1000:.0f} ms | {max(delays) * 1000:.0f} ms |",
            "",
            f"Target (issue 11): p95 under {TARGET_P95_S:g} s: **{met}**. The backlog was still being worked "
            f"through when the last sample ran (free users still had queued jobs: {bool(backlog_left)}).",
        ]
    )
    print(table)
    if args.write:
        text = DOC.read_text()
        section = f"{BEGIN}\n{table}\n{END}"
        if BEGIN in text and END in text:
            text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
        else:
            text = text.rstrip() + "\n\n## Express-lane start latency behind a backlog\n\n" + section + "\n"
        DOC.write_text(text)


if __name__ == "__main__":
    main()
