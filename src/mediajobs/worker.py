"""A worker process's wiring: its services, the Celery app that calls them, and its heartbeat.

    create_worker_app(registry, queues=...)   the Celery app with this process's TaskHandler
    run_worker(settings, ...)                 `mediajobs worker`: check the schema, then run Celery's worker
    python -m mediajobs.worker                the same, configured from the CELERY_* / MEDIAJOBS_* variables

Services are built lazily per process (never shared across a fork: pool children build their own).
The main process marks each stage message it takes from the broker as reserved by this worker, runs
the periodic maintenance when it is the maintenance leader (`MaintenanceLoop`), and beats every few
seconds with the queues it consumes; if the whole worker dies, the messages it had
taken but not claimed are sent again within a lease period, rather than after the broker's
visibility timeout (an hour on Redis), and a job waiting on a queue nobody consumes says so.
On SIGTERM (Celery's warm shutdown) it stops consuming and tells its pool processes to drain
(drain.py): their stages get MEDIAJOBS_DRAIN_SECONDS to finish, then are handed back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from celery import Celery, signals
from celery.exceptions import SoftTimeLimitExceeded

from mediajobs.domain.budget import TaskBudget
from mediajobs.drain import DRAIN_SIGNAL_NAME, Drain
from mediajobs.engines import Engines
from mediajobs.engines.http import OUTBOUND_HTTP
from mediajobs.errors import ConfigurationError, InvalidRequest, MediaJobsError
from mediajobs.hooks import ProcessInfo
from mediajobs.hooks.metrics import event_metrics
from mediajobs.housekeeping import Housekeeping
from mediajobs.monitoring.exposition import WorkerExporter, start_worker_exporter
from mediajobs.queue.app import create_celery_app, use_our_logging
from mediajobs.queue.delivery import DeliverySender
from mediajobs.queue.maintenance import Maintenance
from mediajobs.queue.publisher import DELIVER, RUN_STAGE, CeleryPublisher
from mediajobs.queue.routing import SYSTEM_QUEUES, hooks_queue, maintenance_queue
from mediajobs.registry import Registry, build_registry
from mediajobs.settings import Settings, get_settings
from mediajobs.store import WorkerBeat
from mediajobs.store.tx import durable_hooks
from mediajobs.wiring import Services, build_services, check_database

log = logging.getLogger(__name__)


class WorkerServices:
    """The TaskHandler of one worker process: services built on first use after fork."""

    def __init__(self, build: Callable[[], Services], *, drain_seconds: float = 0.0) -> None:
        self._build = build
        self._services: Services | None = None
        self._lock = threading.Lock()
        self.drain_seconds = drain_seconds
        self.drain = Drain(drain_seconds)  # this process's; its runner hands back stages through it

    def get(self) -> Services:
        with self._lock:
            if self._services is None:
                self._services = self._build()
            return self._services

    def run_stage(self, job_id: uuid.UUID, stage: str, budget: TaskBudget | None = None) -> str:
        return str(self.get().runner.run(job_id, stage, budget).outcome)

    def maintain(self) -> dict[str, int]:
        services = self.get()
        return Maintenance(services.store, services.dispatcher, services.settings).run_once()

    def periodic(self, name: str) -> dict[str, Any] | None:
        services = self.get()
        return Housekeeping(services.store, services.storage, services.workspace, services.settings).run(name)

    def deliver(self, delivery_id: int) -> str:
        services = self.get()
        outcome = DeliverySender(
            services.store,
            durable_hooks(services.hooks),
            services.engines.get(OUTBOUND_HTTP),
            worker=f"{services.settings.worker_name}:{os.getpid()}",
        ).send(delivery_id)
        event_metrics().hook_deliveries.labels(outcome).inc()
        return outcome

    def forget_after_fork(self) -> None:
        if self._services is not None:
            self._services.store.engine.dispose(close=False)  # the parent's connections stay the parent's
        self._services = None
        self.drain = Drain(self.drain_seconds)


def create_worker_app(
    registry: Registry,
    *,
    queues: Sequence[str],
    concurrency: int = 0,
    engines: Callable[[Registry], Engines] | None = None,
) -> Celery:
    """The worker's Celery app, for a worker consuming `queues` with `concurrency` slots (both
    reported with its heartbeat). `engines` replaces the registry's (tests give fakes)."""
    app: Celery
    worker_id = f"{registry.settings.worker_name}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    def build() -> Services:
        return build_services(
            registry,
            CeleryPublisher(
                app, registry.time_limits, hooks_queue=hooks_queue(registry.settings.queue_prefix)
            ),
            engines=engines(registry) if engines is not None else None,
            timeout_errors=(SoftTimeLimitExceeded,),
            consumes=queues,
            runner_id=f"{worker_id}/{os.getpid()}",  # built in the pool process: its own pid
            drain=holder.drain,
        )

    holder = WorkerServices(build, drain_seconds=registry.settings.drain_seconds)
    app = create_celery_app(registry.settings, registry.queues(), handler=lambda: holder)
    _connect_signals(
        app, holder, registry.settings, worker_id=worker_id, queues=queues, concurrency=concurrency
    )
    return app


# -- the main process's heartbeat and reservations -------------------------------------------------


def delivery_of(request: Any) -> int | None:
    """The delivery id of a received task request, if it is a hook delivery's message."""
    if getattr(request, "task_name", None) != DELIVER:
        return None
    try:
        return int(request.args[0])
    except (IndexError, TypeError, ValueError):
        return None


def stage_of(request: Any) -> tuple[uuid.UUID, str] | None:
    """(job id, stage) of a received task request, if it is a stage message."""
    if getattr(request, "task_name", None) != RUN_STAGE:
        return None
    try:
        job_id, stage = request.args[0], request.args[1]
        return uuid.UUID(str(job_id)), str(stage)
    except (IndexError, TypeError, ValueError):
        return None


class Heartbeat(threading.Thread):
    """Beats every `every` seconds while the worker runs; says goodbye on a clean stop."""

    def __init__(
        self,
        holder: WorkerServices,
        *,
        worker_id: str,
        every: float,
        queues: Sequence[str] = (),
        concurrency: int = 0,
    ) -> None:
        super().__init__(name="mediajobs-worker-heartbeat", daemon=True)
        self.holder = holder
        self.worker_id = worker_id
        self.every = every
        self.queues = tuple(queues)
        self.concurrency = concurrency
        self.started_at = datetime.now(UTC)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.beat()
            self._stop_event.wait(self.every)

    def beat(self) -> None:
        try:
            self.holder.get().store.leases.worker_heartbeat(
                WorkerBeat(
                    worker_id=self.worker_id,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=self.started_at,
                    queues=self.queues,
                    concurrency=self.concurrency,
                )
            )
        except Exception:  # the database is away: the next beat tries again
            log.warning("worker heartbeat failed", exc_info=True)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)
        try:
            self.holder.get().store.leases.worker_stopped(self.worker_id)
        except Exception:
            log.warning("could not record the worker's clean stop", exc_info=True)


class MaintenanceLoop(threading.Thread):
    """Periodic upkeep (queue/maintenance.py) every `MEDIAJOBS_MAINTENANCE_INTERVAL` seconds, in the
    main process of one worker at a time: of the live workers that consume the `maintenance` queue,
    the one with the smallest id (`Leases.maintenance_leader`, one read per interval for the others).
    When it dies, the next takes over once its heartbeats have stopped for a lease period. Out of the
    API processes, whose requests it slowed, and run once per deployment, not once per process."""

    def __init__(self, holder: WorkerServices, *, worker_id: str, queue: str, settings: Settings) -> None:
        super().__init__(name="mediajobs-maintenance", daemon=True)
        self.holder = holder
        self.worker_id = worker_id
        self.queue = queue
        self.settings = settings
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.settings.maintenance_interval):
            try:
                store = self.holder.get().store
                leader = store.leases.maintenance_leader(
                    queue=self.queue, silent_for=self.settings.worker_silence
                )
                if leader == self.worker_id:
                    self.holder.maintain()
            except Exception:  # the database or broker is away: try again next round
                log.warning("maintenance round failed", exc_info=True)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)


def heartbeat_interval(settings: Settings) -> float:
    """Beats come well within a lease period, so a dead worker is noticed within one."""
    return max(0.5, min(5.0, settings.lease_seconds / 6))


def _connect_signals(
    app: Celery,
    holder: WorkerServices,
    settings: Settings,
    *,
    worker_id: str,
    queues: Sequence[str],
    concurrency: int,
) -> None:
    heartbeat = Heartbeat(
        holder,
        worker_id=worker_id,
        every=heartbeat_interval(settings),
        queues=queues,
        concurrency=concurrency,
    )

    upkeep = maintenance_queue(settings.queue_prefix)
    maintenance = (
        MaintenanceLoop(holder, worker_id=worker_id, queue=upkeep, settings=settings)
        if upkeep in queues
        else None
    )

    def ours(sender: Any) -> bool:
        return sender is None or getattr(sender, "app", None) in (None, app)

    drain_signal = getattr(signal, DRAIN_SIGNAL_NAME)
    pool_pids: Callable[[], list[int]] = list

    def on_worker_init(sender: Any = None, **_: Any) -> None:
        nonlocal pool_pids
        if not ours(sender):
            return
        # Until a new pool process installs its drain handler, the signal must not kill it.
        signal.signal(drain_signal, signal.SIG_IGN)

        def pids() -> list[int]:
            try:  # prefork: its processes; solo and threads pools have none
                info = getattr(getattr(sender, "pool", None), "info", None) or {}
                return [int(pid) for pid in info.get("processes", ()) if pid]
            except Exception:
                log.warning("drain: cannot list the pool's processes", exc_info=True)
                return []

        pool_pids = pids

    def on_process_init(**_: Any) -> None:
        holder.forget_after_fork()
        signal.signal(drain_signal, lambda *_: holder.drain.begin())
        signal.siginterrupt(drain_signal, False)  # a system call the signal lands in resumes (SA_RESTART)

    def on_shutting_down(how: str = "Warm", **_: Any) -> None:
        # Celery's warm shutdown stops consuming and waits for the pool; the pool processes drain
        # (drain.py). In the main process (solo and threads pools run stages here), drain too.
        if how != "Warm":
            return
        holder.drain.begin()
        for pid in pool_pids():
            with contextlib.suppress(OSError):  # it exited meanwhile
                os.kill(pid, drain_signal)

    me = ProcessInfo(role="worker", hostname=socket.gethostname(), pid=os.getpid(), queues=tuple(queues))

    def on_worker_ready(sender: Any = None, **_: Any) -> None:
        if not ours(sender):
            return
        holder.get().hooks.process_started(me)
        try:  # a restarted worker re-dispatches what died with its predecessor
            figures = holder.maintain()
            log.info("maintenance at worker start: %s", figures)
        except Exception:
            log.warning("maintenance at worker start failed", exc_info=True)
        heartbeat.start()
        if maintenance is not None:
            maintenance.start()

    def on_task_received(sender: Any = None, request: Any = None, **_: Any) -> None:
        # Before the message reaches a pool process: if this worker dies between now and the claim
        # (or while a hook delivery is being sent), the reaper sees the mark and sends the message
        # again within a lease period.
        stage = stage_of(request)
        delivery = delivery_of(request) if stage is None else None
        try:
            if stage is not None:
                holder.get().store.leases.mark_reserved(worker_id, *stage)
            elif delivery is not None:
                holder.get().store.deliveries.mark_reserved(worker_id, delivery)
        except Exception:  # never stop the consumer; the stale re-dispatch remains the fallback
            log.warning("could not mark %s reserved", stage or delivery, exc_info=True)

    def on_worker_shutdown(sender: Any = None, **_: Any) -> None:
        if maintenance is not None and maintenance.is_alive():
            maintenance.stop()
        if heartbeat.is_alive():
            heartbeat.stop()
        holder.get().hooks.process_stopping(me)

    signals.worker_init.connect(on_worker_init, weak=False)
    signals.worker_process_init.connect(on_process_init, weak=False)
    signals.worker_shutting_down.connect(on_shutting_down, weak=False)
    signals.worker_ready.connect(on_worker_ready, weak=False)
    signals.task_received.connect(on_task_received, weak=False)
    signals.worker_shutdown.connect(on_worker_shutdown, weak=False)


# -- running it --------------------------------------------------------------------------------------


def worker_queues(
    registry: Registry,
    *,
    kinds: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    lanes: Sequence[str] | None = None,
) -> list[str]:
    """The queues a worker consumes, in the order it takes work (fastest lane first): those of
    `kinds` (default: every kind the registry knows, and `maintenance` and `hooks`) but not of `exclude`, in
    `lanes` (default: all). InvalidRequest for a name the registry does not know."""
    registry.queues(kinds=[*(kinds or ()), *exclude], lanes=lanes)  # refuses unknown names
    known = [*registry.kind_names(), *SYSTEM_QUEUES]
    chosen = [kind for kind in (kinds or known) if kind not in exclude]
    if not chosen:
        raise InvalidRequest("no queue left to consume: --exclude names every kind", code="unknown_queue")
    return registry.queues(kinds=chosen, lanes=lanes)


def worker_argv(
    settings: Settings,
    *,
    queues: Sequence[str],
    concurrency: int,
    loglevel: str | None = None,
    pool: str | None = None,
) -> list[str]:
    argv = [
        "worker",
        "-Q",
        ",".join(queues),
        "-c",
        str(concurrency),
        "--loglevel",
        (loglevel or settings.log_level).upper(),
        "-n",
        f"mediajobs-{os.getpid()}@{socket.gethostname()}",
        "--without-mingle",
        "--without-gossip",
    ]
    if pool:
        argv += ["--pool", pool]
    return argv


def run_worker(
    settings: Settings,
    *,
    queues: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    concurrency: int | None = None,
    loglevel: str | None = None,
    pool: str | None = None,
    lanes: Sequence[str] | None = None,
    metrics_port: int | None = None,
) -> None:
    """`mediajobs worker`: `queues` are queue kinds (and `maintenance`, `hooks`; default: all of them),
    `exclude` kinds not to serve, `lanes` the lanes to serve (default: all). With a metrics port
    (`metrics_port`, else MEDIAJOBS_WORKER_METRICS_PORT) the main process serves the metrics of
    every pool process there (monitoring/exposition.py)."""
    level = (loglevel or settings.log_level).upper()
    quiet = use_our_logging(role="worker", level=level, log_format=settings.log_format)
    port = metrics_port or settings.worker_metrics_port
    exporter = _metrics_exporter(settings.worker_metrics_host, port) if port else None
    try:
        registry = build_registry(settings)  # after the exporter: the metrics count in its folder
        consumed = worker_queues(registry, kinds=queues, exclude=exclude, lanes=lanes)
        slots = concurrency or settings.worker_concurrency
        argv = quiet + worker_argv(settings, queues=consumed, concurrency=slots, loglevel=level, pool=pool)
        check_database(settings)
        log.info("worker: %s; consuming %s", registry.describe(), ", ".join(consumed))
        app = create_worker_app(registry, queues=consumed, concurrency=slots)
        app.worker_main(argv=argv)
    finally:
        if exporter is not None:
            exporter.close()


def _metrics_exporter(host: str, port: int) -> WorkerExporter:
    try:
        return start_worker_exporter(host, port)
    except OSError as exc:
        raise ConfigurationError(f"cannot serve the worker's metrics on {host}:{port}: {exc}") from None


def main() -> None:
    try:
        run_worker(get_settings())
    except MediaJobsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()


__all__ = [
    "Heartbeat",
    "MaintenanceLoop",
    "WorkerServices",
    "create_worker_app",
    "delivery_of",
    "run_worker",
    "stage_of",
    "worker_argv",
    "worker_queues",
]
