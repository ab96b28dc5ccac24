"""The systems `bench/run` drives, each started fresh on its own database and Redis database:
raw Celery, the hand-wired FastAPI + Celery service, and mediajobs (`noop`, `noop3`)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import redis

from mediajobs.launch import settings_env
from mediajobs.pipelines import shipped_pipelines
from mediajobs.settings import Settings
from mediajobs.store import JobStore, create_db_engine, migrate

from .measure import wait_until

PG_ADMIN = os.environ.get("MEDIAJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_BASE = os.environ.get("MEDIAJOBS_TEST_REDIS", "redis://127.0.0.1:6379")
REDIS_DB = 11
CONCURRENCY = 2  # worker pool processes, the same for every system
Call = Callable[[], None]


def _quiet() -> dict[str, int]:
    return {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}


def _ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, 60, f"{url} answering", every=0.2)


def _worker_ready(log: Path, proc: subprocess.Popen[bytes]) -> None:
    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited: {log.read_text(errors='replace')[-2000:]}")
        return " ready." in log.read_text(errors="replace")

    wait_until(up, 60, "worker ready", every=0.2)


@dataclass
class System:
    """Base: a fresh PostgreSQL database and Redis database, processes started in `start`."""

    name: str
    port: int = 8790
    database: str = ""
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mj-peer-")))
    sql_counts: Path | None = None

    @property
    def db_url(self) -> str:
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + self.database

    @property
    def broker(self) -> str:
        return f"{REDIS_BASE}/{REDIS_DB}"

    def fresh(self) -> None:
        self.database = f"mj_peer_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.database}")  # type: ignore[arg-type]
        client = redis.Redis.from_url(self.broker)
        client.flushdb()
        client.close()

    def spawn(self, role: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{role}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
        self.procs[role] = proc
        return proc

    def roots(self) -> dict[str, int]:
        return {role: proc.pid for role, proc in self.procs.items()}

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")  # type: ignore[arg-type]

    # what each system defines
    def start(self) -> None:
        raise NotImplementedError

    def make_call(self) -> Call:
        raise NotImplementedError

    def done(self) -> int:
        raise NotImplementedError

    @property
    def http(self) -> bool:
        return "api" in self.procs


class RawCelery(System):
    def _env(self) -> dict[str, str]:
        return {"BENCH_BROKER": self.broker, "BENCH_QUEUE": "bench_raw"}

    def start(self) -> None:
        self.fresh()
        os.environ.update(self._env())  # the producer in this process uses the same app
        proc = self.spawn(
            "worker",
            [sys.executable, "-m", "celery", "-A", "bench.peers:raw_app", "worker", "-c", str(CONCURRENCY),
             "-Q", "bench_raw", "--without-mingle", "--without-gossip", "-l", "info"],
            self._env(),
        )  # fmt: skip
        _worker_ready(self.workdir / "worker.log", proc)
        self._redis = redis.Redis.from_url(self.broker)

    def make_call(self) -> Call:
        from bench import peers

        peers.raw_app.conf.broker_url = self.broker
        peers.raw_app.conf.task_default_queue = "bench_raw"

        def call() -> None:
            peers.raw_noop.apply_async(queue="bench_raw")

        return call

    def done(self) -> int:
        return int(self._redis.get("bench_raw:done") or 0)


class HandWired(System):
    def _env(self) -> dict[str, str]:
        return {
            "BENCH_BROKER": self.broker,
            "BENCH_QUEUE": "bench_hw",
            "BENCH_DB": self.db_url.replace("postgresql://", "postgresql+psycopg://"),
        }

    def start(self) -> None:
        self.fresh()
        env = self._env()
        os.environ.update(env)
        from bench import peers

        peers.DATABASE = env["BENCH_DB"]
        peers._engine = None
        peers.create_tables()
        worker = self.spawn(
            "worker",
            [sys.executable, "-m", "celery", "-A", "bench.peers:handwired_celery", "worker", "-c",
             str(CONCURRENCY), "-Q", "bench_hw", "--without-mingle", "--without-gossip", "-l", "info"],
            env,
        )  # fmt: skip
        api = self.spawn(
            "api",
            [sys.executable, "-m", "uvicorn", "bench.peers:handwired_api", "--port", str(self.port),
             "--log-level", "warning", "--no-access-log"],
            env,
        )  # fmt: skip
        _ready(f"http://127.0.0.1:{self.port}/healthz", api)
        _worker_ready(self.workdir / "worker.log", worker)
        self._engine = create_db_engine(self.db_url)

    def make_call(self) -> Call:
        client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)

        def call() -> None:
            assert client.post("/jobs").status_code == 202

        return call

    def done(self) -> int:
        from sqlalchemy import text

        with self._engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM hw_jobs WHERE status = 'done'")).scalar_one())

    def stop(self) -> None:
        self._engine.dispose()
        from bench import peers

        if peers._engine is not None:
            peers._engine.dispose()
            peers._engine = None
        super().stop()


@dataclass
class MediaJobs(System):
    pipeline: str = "noop"
    api_workers: int = 1  # `mediajobs api --workers N`

    def settings(self) -> Settings:
        return Settings(  # type: ignore[call-arg]
            _env_file=None, MEDIAJOBS_DATA_DIR=self.workdir / "data", MEDIAJOBS_DATABASE_URL=self.db_url,
            CELERY_BROKER_URL=self.broker, MEDIAJOBS_QUEUE_PREFIX="bench.", CELERY_LOG_LEVEL="info",
            MEDIAJOBS_NOOP_PIPELINES=True, CELERY_WORKER_CONCURRENCY=CONCURRENCY,
            # the limiter stays in the path, with room for the benchmark's bursts
            MEDIAJOBS_TIER_LIMITS={"enterprise": {"submits_per_minute": 1_000_000}},
        )  # fmt: skip

    def start(self) -> None:
        self.fresh()
        engine = create_db_engine(self.db_url)
        migrate(engine)
        _, self.key = JobStore(engine, pipelines=shipped_pipelines(noop=True)).users.create_key(
            "local", name="bench"
        )
        engine.dispose()
        env = settings_env(self.settings())
        if self.sql_counts is not None:
            env["MEDIAJOBS_SQL_COUNTS"] = str(self.sql_counts)
        worker = self.spawn("worker", [sys.executable, "-m", "mediajobs", "worker"], env)
        argv = [sys.executable, "-m", "mediajobs", "api", "--port", str(self.port)]
        api = self.spawn("api", [*argv, "--workers", str(self.api_workers)], env)
        _ready(f"http://127.0.0.1:{self.port}/readyz", api)
        _worker_ready(self.workdir / "worker.log", worker)
        self._engine = create_db_engine(self.db_url)

    def make_call(self) -> Call:
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            timeout=60,
            headers={"Authorization": f"Bearer {self.key}"},
        )
        body = {"pipeline": self.pipeline, "source": "noop://bench"}

        def call() -> None:
            response = client.post("/api/v1/jobs", json=body)
            assert response.status_code == 202, response.text

        return call

    def job_latency(self, count: int) -> list[float]:
        """End to end, one client, idle workers: submit a job, then watch its row until it succeeded
        (a read every half millisecond); `count` jobs one after the other, in ms."""
        from sqlalchemy import text

        client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            timeout=60,
            headers={"Authorization": f"Bearer {self.key}"},
        )
        status = text("SELECT status FROM jobs WHERE id = :id")
        latencies = []
        try:
            with self._engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                for _ in range(count):
                    started = time.perf_counter()
                    answer = client.post(
                        "/api/v1/jobs", json={"pipeline": self.pipeline, "source": "noop://one"}
                    )
                    assert answer.status_code == 202, answer.text
                    job_id = answer.json()["id"]
                    while conn.execute(status, {"id": job_id}).scalar_one() != "succeeded":
                        if time.perf_counter() - started > 30:
                            raise TimeoutError(f"job {job_id} did not succeed within 30 s")
                        time.sleep(0.0005)
                    latencies.append((time.perf_counter() - started) * 1000)
        finally:
            client.close()
        return latencies

    def done(self) -> int:
        from sqlalchemy import text

        with self._engine.connect() as conn:
            return int(
                conn.execute(text("SELECT count(*) FROM jobs WHERE status = 'succeeded'")).scalar_one()
            )

    def stop(self) -> None:
        self._engine.dispose()
        super().stop()


def redis_pid() -> int:
    client = redis.Redis.from_url(REDIS_BASE)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


def settle(system: System, expected: int, timeout: float = 300) -> float:
    """Wait until `expected` jobs are done; returns when (perf_counter)."""
    return wait_until(
        lambda: system.done() >= expected, timeout, f"{system.name}: {expected} jobs done", every=0.02
    )


__all__ = ["CONCURRENCY", "HandWired", "MediaJobs", "RawCelery", "System", "redis_pid", "settle"]
