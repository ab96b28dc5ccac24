"""Starting mediajobs processes: API, worker, beat, and all three together (`up`)."""

from __future__ import annotations

import functools
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mediajobs.errors import ConfigurationError
from mediajobs.registry import Registry, build_registry
from mediajobs.settings import Settings
from mediajobs.store import create_db_engine, migrate
from mediajobs.wiring import check_database

log = logging.getLogger(__name__)

STREAM_SHUTDOWN_GRACE_SECONDS = 5
UP_STOP_GRACE_SECONDS = 30.0
"""How long `mediajobs up` lets its children stop after SIGTERM before it SIGKILLs them."""


def migrate_database(settings: Settings) -> str:
    engine = create_db_engine(settings.resolved_database_url)
    try:
        return migrate(engine)
    finally:
        engine.dispose()


def run_api(settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the API; with `workers` > 1, that many processes share the port (uvicorn's supervisor
    restarts one that dies). Each process has its own pools and publisher; the rate
    limit is shared only when it is kept in Redis (the default with a Redis broker)."""
    import uvicorn

    from mediajobs.api.app import create_app
    from mediajobs.monitoring.exposition import (
        fresh_multiprocess_dir,
        remove_multiprocess_dir,
        use_multiprocess,
    )

    check_database(settings)
    # Event streams (SSE, WebSocket) never finish on their own: without a deadline a SIGTERM would
    # wait for every follower to leave. After it they are cut; clients resume with Last-Event-ID.
    common: dict[str, Any] = dict(
        host=host,
        port=port,
        log_level=settings.log_level,
        log_config=None,  # uvicorn's lines go to the root logger, in our format (logconfig.py)
        timeout_graceful_shutdown=STREAM_SHUTDOWN_GRACE_SECONDS,
        **request_head_limit(settings),
    )
    if workers == 1:
        uvicorn.run(create_app(settings), **common)
        return
    env = settings_env(settings)  # the worker processes read the same settings from it
    for name in set(os.environ) - set(env):
        del os.environ[name]
    os.environ.update(env)
    # Each API process counts its metrics in files of one folder (they inherit the variable), so any
    # of them answers GET /metrics with the sum of all (monitoring/exposition.py).
    folder = fresh_multiprocess_dir()
    use_multiprocess(folder)
    try:
        uvicorn.run(APP_FACTORY, factory=True, workers=workers, **common)
    finally:
        remove_multiprocess_dir(folder)


APP_FACTORY = "mediajobs.api.app:create_app_from_environment"


def request_head_limit(settings: Settings) -> dict[str, Any]:
    """uvicorn options that bound a request's line and headers to `MEDIAJOBS_MAX_REQUEST_HEAD_BYTES`.

    The h11 parser, chosen explicitly: it refuses a head that grows past the limit (400, connection
    closed). httptools, which uvicorn picks when it is installed, has no limit at all: it keeps
    appending to a header value for as long as the client sends one (four unauthenticated sockets
    took an API process from 137 to 1,101 MiB)."""
    return {"http": "h11", "h11_max_incomplete_event_size": settings.max_request_head_bytes}


def run_beat(settings: Settings, *, loglevel: str | None = None) -> None:
    from mediajobs.hooks import ProcessInfo
    from mediajobs.queue.app import create_celery_app, use_our_logging

    check_database(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    level = (loglevel or settings.log_level).upper()
    quiet = use_our_logging(role="beat", level=level, log_format=settings.log_format)
    registry = build_registry(settings)
    app = create_celery_app(settings, registry.queues(), with_schedule=True)
    schedule = settings.data_dir / "celerybeat-schedule"
    hooks = registry.hooks()
    me = ProcessInfo(role="beat", hostname=socket.gethostname(), pid=os.getpid())
    hooks.process_started(me)
    try:
        app.start(argv=[*quiet, "beat", "--loglevel", level, "-s", str(schedule)])
    finally:
        hooks.process_stopping(me)


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment that makes a child process read the same settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env.update(settings.to_env())
    return env


ROOT_WARNING = "ignore:You're running the worker with superuser privileges"
"""A `PYTHONWARNINGS` filter for Celery's warning about running as root: `up` lets its first worker
say it, once per start, not each of its workers."""


def spawn(
    args: Sequence[str], settings: Settings, *, log_file: Path | None = None, warnings: str | None = None
) -> subprocess.Popen[bytes]:
    """Start `python -m mediajobs <args>` as a child process with the same settings (`warnings`: a
    filter added to its PYTHONWARNINGS)."""
    env = settings_env(settings)
    if warnings:
        env["PYTHONWARNINGS"] = ",".join(w for w in (env.get("PYTHONWARNINGS"), warnings) if w)
    if log_file is None:
        return subprocess.Popen([sys.executable, "-m", "mediajobs", *args], env=env)
    with open(log_file, "ab") as out:  # the child has its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "mediajobs", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def prepare_local_key(settings: Settings) -> Path:
    """Make (once) the local admin's API key file under the data dir."""
    from mediajobs.localkey import ensure_local_key
    from mediajobs.store import JobStore

    engine = create_db_engine(settings.resolved_database_url)
    try:
        return ensure_local_key(JobStore(engine), settings.api_key_file)
    finally:
        engine.dispose()


def up_workers(
    registry: Registry, *, concurrency: int | None, engine_slots: int, metrics_port: int | None = None
) -> dict[str, list[str]]:
    """The workers `mediajobs up` starts, by name, as `mediajobs worker` arguments: one for every queue
    kind that wants a worker of its own (speech-to-text: `engine_slots` slots, an engine process each),
    and one for all the others and `maintenance`. Every kind the registry knows is served. With a
    `metrics_port`, the workers serve their metrics on it and the ports after it, in this order."""
    own = [kind.name for kind in registry.queue_kinds() if kind.own_worker]
    general = ["worker", *(["-X", ",".join(own)] if own else [])]
    general += ["-c", str(concurrency)] if concurrency else []
    workers = {"worker": general}
    for kind in own:
        workers[f"{kind} worker"] = ["worker", "-Q", kind, "-c", str(engine_slots)]
    if metrics_port:
        for offset, args in enumerate(workers.values()):
            args += ["--metrics-port", str(metrics_port + offset)]
    return workers


ENGINE_MEMORY_BUDGET = 512 * 1024 * 1024
"""Memory one transcribe slot may need: its engine process holds the model (tiny.en: about 340 MB RSS
at its peak, measured in docs/benchmarks.md) and the decoded audio."""


def transcribe_slots(cpus: int | None = None, available_bytes: int | None = None) -> int:
    """Default transcribe slots of a worker: one per core, and no more than the available memory holds
    engines for. CTranslate2 decodes on every core it gets, so more slots than cores add memory, not
    speed (measured in docs/benchmarks.md, "Worker memory")."""
    cpus = cpus if cpus is not None else (os.cpu_count() or 1)
    if available_bytes is None:
        available_bytes = _available_memory()
    by_memory = available_bytes // ENGINE_MEMORY_BUDGET if available_bytes else cpus
    return max(1, min(cpus, by_memory))


def _available_memory() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_up(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    concurrency: int | None = None,
    transcribe_concurrency: int | None = None,
    grace: float = UP_STOP_GRACE_SECONDS,
) -> int:
    """API, workers and beat on this machine, each a child process of this one, until SIGTERM or
    SIGINT (or until one of them exits: then 1). Embedded (SQLite + filesystem broker) unless
    configured. See supervise.py for how they are stopped.

    Every queue is served (`up_workers`): one worker takes every queue kind but those that want a
    worker of their own, and `maintenance` (`concurrency` slots, default CELERY_WORKER_CONCURRENCY);
    the transcribe queue has its own worker with `transcribe_concurrency` slots (default:
    `transcribe_slots()`), each slot with its own speech-to-text engine process."""
    from mediajobs.supervise import Supervisor, become_subreaper

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    revision = migrate_database(settings)
    log.info("database at revision %s", revision)
    key_file = prepare_local_key(settings)
    log.info(
        "the local admin's API key is in %s (the CLI and the Python client read it from there)", key_file
    )
    slots = transcribe_concurrency or transcribe_slots()
    workers = up_workers(
        build_registry(settings),
        concurrency=concurrency,
        engine_slots=slots,
        metrics_port=settings.worker_metrics_port,
    )
    log.info("transcribe worker: %d slots (one speech-to-text engine process each)", slots)
    become_subreaper()
    supervisor = Supervisor(grace=grace)
    supervisor.start("api", lambda: spawn(["api", "--host", host, "--port", str(port)], settings))
    for index, (name, args) in enumerate(workers.items()):
        warnings = ROOT_WARNING if index else None
        supervisor.start(name, functools.partial(spawn, args, settings, warnings=warnings))
    supervisor.start("beat", lambda: spawn(["beat"], settings))
    return supervisor.run()


FLOWER_MISSING = "Flower is not installed here: pip install 'mediajobs[flower]'"


def run_flower(
    settings: Settings, *, port: int = 5555, address: str = "127.0.0.1", extra: Sequence[str] = ()
) -> int:
    """Flower (Celery's web monitor) on this deployment's broker, with the app's queues and task names.
    It shows tasks only from workers that send Celery's task events (MEDIAJOBS_CELERY_TASK_EVENTS=true);
    `extra` are Flower's own options (`--basic-auth=user:password`, `--url-prefix=flower`, ...)."""
    try:
        import flower  # noqa: F401
    except ImportError:
        raise ConfigurationError(FLOWER_MISSING) from None
    from mediajobs.logconfig import configure_logging
    from mediajobs.queue.app import create_celery_app

    configure_logging(role="flower", level=settings.log_level, log_format=settings.log_format)
    if not settings.task_events:
        log.warning("MEDIAJOBS_CELERY_TASK_EVENTS is off: Flower sees workers, not their tasks")
    app = create_celery_app(settings, build_registry(settings).queues())
    code: int | None = app.start(argv=["flower", f"--port={port}", f"--address={address}", *extra])
    return code or 0
