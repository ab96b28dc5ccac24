"""Submit latency: POST /api/v1/jobs -> 202, on a real uvicorn API with PostgreSQL and Redis.

    .venv/bin/python -m bench.submit_latency              # prints the figures
    .venv/bin/python -m bench.submit_latency --write      # and records them in docs/benchmarks.md

A fresh PostgreSQL database (created, migrated, dropped at the end) and a Redis queue prefix of its
own; the API runs as `python -m mediajobs api` in a child process; no worker runs, so the figures are
the API's own work: authenticate the key (and read the caller's usage), check quota and rate limit,
validate, one transaction (job + stage rows + outbox + usage + event, admission with its per-user
lock), answer 202, then publish to Redis after the response. Measured sequentially (one client) and
with `--concurrency` clients, for JSON submits (URL source) and multipart uploads of a small file.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from mediajobs.domain import LOCAL_USER_ID
from mediajobs.launch import settings_env
from mediajobs.pipelines import shipped_pipelines
from mediajobs.settings import Settings
from mediajobs.store import JobStore, create_db_engine, migrate

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- submit-latency:begin -->", "<!-- submit-latency:end -->"
PG_ADMIN = os.environ.get("MEDIAJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("MEDIAJOBS_TEST_REDIS", "redis://127.0.0.1:6379") + "/14"
WARMUP = 20


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def measure(call: Callable[[], int], count: int, concurrency: int) -> list[float]:
    timings: list[float] = []
    lock = threading.Lock()
    per_thread = count // concurrency

    def run() -> None:
        mine = []
        for _ in range(per_thread):
            started = time.perf_counter()
            status = call()
            mine.append((time.perf_counter() - started) * 1000)
            assert status == 202, status
        with lock:
            timings.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--write", action="store_true", help="record the figures in docs/benchmarks.md")
    args = parser.parse_args()

    db = f"mj_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {db}")  # type: ignore[arg-type]
    db_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + db
    engine = create_db_engine(db_url)
    migrate(engine)
    _, key = JobStore(engine, pipelines=shipped_pipelines(noop=True)).users.create_key(
        LOCAL_USER_ID, name="bench"
    )  # auth is in the measured path
    engine.dispose()
    data = Path(tempfile.mkdtemp(prefix="mj-bench-"))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, MEDIAJOBS_DATA_DIR=data, MEDIAJOBS_DATABASE_URL=db_url, CELERY_BROKER_URL=REDIS,
        MEDIAJOBS_QUEUE_PREFIX=f"bench{uuid.uuid4().hex[:6]}.", CELERY_LOG_LEVEL="warning",
    )  # fmt: skip
    api = subprocess.Popen(
        [sys.executable, "-m", "mediajobs", "api", "--port", str(args.port)],
        env=settings_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{args.port}"
    results: dict[str, list[float]] = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or api.poll() is not None:
                raise SystemExit("the API did not start")
            time.sleep(0.2)  # waiting for the server this script started
        media = b"RIFF" + os.urandom(16 * 1024)
        with httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:

            def submit_json() -> int:
                body = {"pipeline": "transcribe", "source": "https://media.example/talk.mp3"}
                return client.post("/api/v1/jobs", json=body).status_code

            def submit_upload() -> int:
                return client.post(
                    "/api/v1/jobs", files={"file": ("clip.wav", media, "audio/wav")}
                ).status_code

            measure(submit_json, WARMUP, 1)
            results["JSON, 1 client"] = measure(submit_json, args.count, 1)
            results[f"JSON, {args.concurrency} clients"] = measure(submit_json, args.count, args.concurrency)
            results["multipart 16 KiB, 1 client"] = measure(submit_upload, args.count // 2, 1)
    finally:
        api.terminate()
        api.wait(timeout=20)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")  # type: ignore[arg-type]

    lines = [
        f"Command: `.venv/bin/python -m bench.submit_latency --count {args.count} "
        f"--concurrency {args.concurrency}`; {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{datetime.now(UTC).date()}. API: one uvicorn process; PostgreSQL and Redis on this machine.",
        "",
        "| submit | requests | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    for name, values in results.items():
        lines.append(
            f"| {name} | {len(values)} | {statistics.median(values):.1f} | {percentile(values, 0.95):.1f} "
            f"| {percentile(values, 0.99):.1f} | {max(values):.1f} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section(table)


def write_section(table: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    section = f"{BEGIN}\n{table}\n{END}"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n## Submit latency (POST /api/v1/jobs -> 202)\n\n" + section + "\n"
    DOC.write_text(text)


if __name__ == "__main__":
    main()
