"""Progress event latency: from a worker's publish to an SSE client, on real Redis, PostgreSQL and uvicorn.

    .venv/bin/python -m bench.progress_latency                 # prints the figures
    .venv/bin/python -m bench.progress_latency --write         # and records them in docs/benchmarks.md

What runs (all on this machine, nothing else is contacted):

- a fresh PostgreSQL database (created, migrated, dropped at the end) and a Redis key prefix of its own;
- the API as `python -m mediajobs api` (uvicorn) in a child process;
- a "worker" child process that claims a stage of a job and reports progress through the real store
  (`JobStore.report_progress`: commit, then publish on Redis), `--rate` events a second; it stamps
  `time.monotonic_ns()` just before each event is handed to Redis (and before the store call);
- `--clients` SSE clients in this process (one thread each) following the job's stream, stamping
  each event when its SSE frame is parsed.

CLOCK_MONOTONIC is one clock for every process of a Linux machine, so stamps from the two processes
compare directly. Reported: publish -> client (the target) and store call -> client (adds the
database transaction). `--embedded` runs the same on SQLite without Redis, where the API follows the
event log by polling it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

from mediajobs.client import SseParser
from mediajobs.domain import LOCAL_USER_ID
from mediajobs.domain.events import ProgressEvent
from mediajobs.launch import settings_env
from mediajobs.pipelines import get_pipeline, shipped_pipelines
from mediajobs.progress import RedisEventBus
from mediajobs.progress.wiring import channel_prefix
from mediajobs.settings import Settings
from mediajobs.store import Claim, JobStore, create_db_engine, migrate

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- progress-latency:begin -->", "<!-- progress-latency:end -->"
WARMUP = 10  # events left out of the figures (connections and caches warming up)


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str
    clients: int
    embedded: bool

    @property
    def slug(self) -> str:
        return f"{'embedded' if self.embedded else 'redis'}-{self.clients}"


# -- the worker side (a child process) -----------------------------------------------------------


def worker_main(settings_json: str, job_id: str, events: int, rate: float, conn: Connection) -> None:
    """Report `events` progress updates of one claimed stage; send back (seq, t_call, t_publish) stamps."""
    settings = Settings.model_validate_json(settings_json)
    published: dict[int, int] = {}
    bus = (
        None
        if settings.embedded
        else RedisEventBus(
            str(settings.broker_url), prefix=channel_prefix(settings, str(settings.broker_url))
        )
    )

    def sink(batch: Sequence[ProgressEvent]) -> None:
        stamp = time.monotonic_ns()
        for event in batch:
            published[event.seq] = stamp
        if bus is not None:
            bus.publish(batch)

    engine = create_db_engine(settings.resolved_database_url)
    store = JobStore(engine, event_sink=sink, pipelines=shipped_pipelines(noop=True))
    claim = store.stages.claim_stage(uuid.UUID(job_id), "ingest", worker="bench", lease_seconds=600)
    assert isinstance(claim, Claim), claim
    conn.send("claimed")
    assert conn.recv() == "go"
    called: list[tuple[int, int]] = []
    interval = 1.0 / rate
    next_at = time.monotonic()
    for i in range(events):
        now = time.monotonic()
        if next_at > now:
            time.sleep(next_at - now)  # pacing: `rate` events a second
        next_at += interval
        before = time.monotonic_ns()
        store.stages.report_progress(claim, 100.0 * (i + 1) / (events + 1), f"bench {i}")
        called.append((before, max(published)))
    store.stages.complete_stage(claim, {"bench": True})
    store.jobs.request_cancel(claim.job.id)  # the job's final event: the SSE streams end
    conn.send([(seq, t_call, published[seq]) for t_call, seq in called])
    if bus is not None:
        bus.close()
    engine.dispose()


# -- the client side ------------------------------------------------------------------------------


def follow(url: str, key: str, job_id: str, received: dict[int, int], ready: threading.Event) -> None:
    with (
        httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {key}"}) as http,
        http.stream("GET", f"/api/v1/jobs/{job_id}/events") as response,
    ):
        parser = SseParser()
        for line in response.iter_lines():
            message = parser.feed(line)
            if message is None or not message.data:
                continue
            stamp = time.monotonic_ns()
            event = ProgressEvent.from_json(json.loads(message.data))
            received[event.seq] = stamp
            ready.set()
            if event.final:
                return


# -- orchestration --------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pg_admin() -> str:
    return os.environ.get("MEDIAJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_database(url: str, name: str) -> str:
    return f"{url.rpartition('/')[0]}/{name}"


def run(scenario: Scenario, *, events: int, rate: float, redis_url: str, workdir: Path) -> dict[str, Any]:
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    database = f"mj_bench_{uuid.uuid4().hex[:8]}"
    env: dict[str, object] = {"MEDIAJOBS_DATA_DIR": workdir / scenario.slug, "MEDIAJOBS_QUEUE_PREFIX": prefix}
    if scenario.embedded:
        env["MEDIAJOBS_DATABASE_URL"] = f"sqlite:///{workdir / scenario.slug / 'bench.sqlite3'}"
    else:
        with psycopg.connect(_pg_admin(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {database}")
        env["MEDIAJOBS_DATABASE_URL"] = _with_database(_pg_admin(), database)
        env["CELERY_BROKER_URL"] = redis_url
    settings = Settings(_env_file=None, CELERY_LOG_LEVEL="warning", **env)  # type: ignore[arg-type]
    engine = create_db_engine(settings.resolved_database_url)
    migrate(engine)
    store = JobStore(engine, pipelines=shipped_pipelines(noop=True))
    job, _ = store.jobs.create_job(
        owner_id=LOCAL_USER_ID,
        pipeline=get_pipeline("transcribe"),
        source="https://example.invalid/bench.wav",
        options={},
    )
    job_id = str(job.id)
    _, key = store.users.create_key(LOCAL_USER_ID, name="bench")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    api_env = {**os.environ, **settings_env(settings)}
    if scenario.embedded:
        api_env.pop("CELERY_BROKER_URL", None)
    log_path = workdir / f"api-{scenario.slug}.log"
    with open(log_path, "wb") as log:
        api = subprocess.Popen(
            [sys.executable, "-m", "mediajobs", "api", "--port", str(port)],
            env=api_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    worker = ctx.Process(
        target=worker_main, args=(settings.model_dump_json(by_alias=False), job_id, events, rate, child)
    )
    try:
        _wait_ready(url, api, log_path)
        worker.start()
        assert parent.recv() == "claimed"
        receivers: list[dict[int, int]] = [{} for _ in range(scenario.clients)]
        threads = []
        for received in receivers:
            ready = threading.Event()
            thread = threading.Thread(target=follow, args=(url, key, job_id, received, ready), daemon=True)
            thread.start()
            if not ready.wait(30):
                raise RuntimeError(f"SSE client did not connect; see {log_path}")
            threads.append(thread)
        parent.send("go")
        stamps: list[tuple[int, int, int]] = parent.recv()
        for thread in threads:
            thread.join(60)
        worker.join(30)
    finally:
        if worker.is_alive():
            worker.terminate()
        api.terminate()
        try:
            api.wait(15)
        except subprocess.TimeoutExpired:  # e.g. an SSE stream still open: uvicorn waits for it
            api.kill()
            api.wait(15)
        engine.dispose()
        if not scenario.embedded:
            with psycopg.connect(_pg_admin(), autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)
            client.close()
    from_publish: list[float] = []
    from_call: list[float] = []
    missing = 0
    for seq, t_call, t_publish in stamps[WARMUP:]:
        for received in receivers:
            if seq not in received:
                missing += 1
                continue
            from_publish.append((received[seq] - t_publish) / 1e6)
            from_call.append((received[seq] - t_call) / 1e6)
    return {
        "scenario": scenario.name,
        "clients": scenario.clients,
        "events": len(stamps) - WARMUP,
        "samples": len(from_publish),
        "missing": missing,
        "publish": _figures(from_publish),
        "call": _figures(from_call),
    }


def _figures(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": ordered[-1]}


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # waiting for the server we started
    raise RuntimeError(f"the API did not become ready; see {log_path}")


# -- report ---------------------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1).strip() if found else cpu
    mem = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        found = re.search(r"MemTotal:\s*(\d+) kB", meminfo.read_text())
        mem = f", {int(found.group(1)) / 1024 / 1024:.0f} GiB RAM" if found else ""
    return f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}"


def versions(redis_url: str) -> str:
    client = redis.Redis.from_url(redis_url)
    redis_version = client.info("server").get("redis_version", "?")
    client.close()
    with psycopg.connect(_pg_admin()) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    pg_version = row[0] if row else "?"
    return f"Python {platform.python_version()}, Redis {redis_version}, PostgreSQL {pg_version}"


def table(results: list[dict[str, Any]], rate: float) -> str:
    lines = [
        "| scenario | SSE clients | events x clients | publish -> client p50 / p95 / p99 / max (ms) "
        "| store call -> client p50 / p95 (ms) | missing |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        p, c = r["publish"], r["call"]
        lines.append(
            f"| {r['scenario']} | {r['clients']} | {r['events']} x {r['clients']} "
            f"| {p['p50']:.2f} / **{p['p95']:.2f}** / {p['p99']:.2f} / {p['max']:.2f} "
            f"| {c['p50']:.2f} / {c['p95']:.2f} | {r['missing']} |"
        )
    return "\n".join(lines) + f"\n\nEvents reported at {rate:g} per second by one worker process."


def _verdict(results: list[dict[str, Any]], target_ms: float = 100.0) -> str:
    live = [r for r in results if not r["scenario"].startswith("embedded")]
    worst = max((r["publish"]["p95"] for r in live), default=float("nan"))
    met = "met" if worst < target_ms else "NOT met"
    return (
        f"Target (issue 4): publish -> client p95 under {target_ms:g} ms with Redis: **{met}** "
        f"(worst p95 {worst:.2f} ms)."
    )


def write_doc(body: str) -> None:
    section = f"{BEGIN}\n{body}\n{END}"
    if DOC.exists():
        text = DOC.read_text()
        if BEGIN in text and END in text:
            text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
        else:
            text = text.rstrip() + "\n\n" + section + "\n"
    else:
        text = "# Benchmarks\n\nMeasured figures; each section says how to run it again.\n\n" + section + "\n"
    DOC.write_text(text)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300, help="progress events per scenario")
    parser.add_argument("--rate", type=float, default=20.0, help="events per second")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 20], help="SSE clients per scenario")
    parser.add_argument("--embedded", action="store_true", help="also run on SQLite without Redis")
    parser.add_argument("--redis", default=os.environ.get("MEDIAJOBS_TEST_REDIS", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--write", action="store_true", help=f"record the figures in {DOC.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    scenarios = [Scenario(name=f"redis, {n} client(s)", clients=n, embedded=False) for n in args.clients]
    if args.embedded:
        scenarios.append(Scenario(name="embedded (SQLite, log polling)", clients=1, embedded=True))
    results = []
    with tempfile.TemporaryDirectory(prefix="mediajobs-bench-") as tmp:
        for scenario in scenarios:
            print(f"running: {scenario.name} ...", file=sys.stderr)
            results.append(
                run(scenario, events=args.events, rate=args.rate, redis_url=args.redis, workdir=Path(tmp))
            )
    command = "`.venv/bin/python -m bench.progress_latency " + " ".join(
        a for a in (argv if argv is not None else sys.argv[1:]) if a != "--write"
    )
    body = "\n".join(
        [
            "## Progress event latency (publish -> SSE client)",
            "",
            f"Command: {command.rstrip()}` ({datetime.now(UTC):%Y-%m-%d}).",
            f"Machine: {machine()}; {versions(args.redis)}.",
            "",
            table(results, args.rate),
            "",
            _verdict(results),
            "",
            "*publish -> client*: from the worker handing the committed event to Redis (`PUBLISH`) to "
            "the SSE client having parsed it: Redis pub/sub, the API's one pattern subscription, the "
            "follower, uvicorn, the HTTP stream. *store call -> client* adds the database transaction "
            "that logs the event. The embedded row publishes nothing (no Redis): its first figure is "
            "from the commit, and both follow the 0.25 s interval at which the API polls the event log.",
        ]
    )
    print(body)
    if args.write:
        write_doc(body)
        print(f"\nwrote {DOC.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
