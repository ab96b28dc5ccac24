"""The Celery application: broker settings that keep work safe, one queue per stage kind, thin tasks.

Tasks only decode ids and call the runner. Job truth is in the database, so Celery's result backend
is optional (off unless CELERY_RESULT_BACKEND is set).
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from celery import Celery, signals
from celery.exceptions import SoftTimeLimitExceeded
from kombu.entity import Queue
from sqlalchemy.exc import OperationalError

from mediajobs.queue.maintenance import Maintenance
from mediajobs.queue.publisher import RUN_STAGE, CeleryPublisher
from mediajobs.queue.routing import MAINTENANCE_QUEUE, all_queues
from mediajobs.settings import Settings

log = logging.getLogger(__name__)

MAINTAIN = "mediajobs.maintain"


def broker_transport_options(settings: Settings) -> dict[str, Any]:
    if settings.embedded:
        folder = settings.broker_dir / "messages"
        processed = settings.broker_dir / "processed"
        control = settings.broker_dir / "control"  # kombu's default is ./control in the working dir
        for path in (folder, processed, control):
            path.mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "processed_folder": str(processed),
            "control_folder": str(control),
            "store_processed": False,
            "polling_interval": 0.1,
        }
    timeout = settings.broker_visibility_timeout
    return {
        "visibility_timeout": timeout,
        # kombu sweeps for expired unacked messages every interval * throttle seconds (100 s by
        # default); keep the sweep in step with a short visibility timeout.
        "unacked_restore_interval": min(10, max(1, timeout // 4)),
        "unacked_restore_throttle": 1 if timeout < 100 else 10,
    }


def create_celery_app(settings: Settings) -> Celery:
    prefix = settings.queue_prefix
    app = Celery("mediajobs", broker=settings.resolved_broker_url, backend=settings.result_backend)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=settings.worker_max_tasks_per_child,
        worker_concurrency=settings.worker_concurrency,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        broker_transport_options=broker_transport_options(settings),
        task_time_limit=settings.stage_hard_time_limit,
        task_soft_time_limit=settings.stage_soft_time_limit,
        task_ignore_result=settings.result_backend is None,
        task_queues=[Queue(name) for name in all_queues(prefix)],  # type: ignore[no-untyped-call]
        task_default_queue=f"{prefix}{MAINTENANCE_QUEUE}",
        task_create_missing_queues=True,
        task_send_sent_event=True,
        worker_send_task_events=True,
        beat_schedule={
            "mediajobs-maintain": {
                "task": MAINTAIN,
                "schedule": max(5.0, settings.maintenance_interval * 5),
                "options": {"queue": f"{prefix}{MAINTENANCE_QUEUE}", "expires": 60},
            }
        },
    )
    holder = _ServicesHolder(app, settings)
    app.mediajobs_services = holder  # the worker's services, built lazily in each process

    @app.task(name=RUN_STAGE, bind=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def run_stage(self: Any, job_id: str, stage: str) -> str:
        try:
            parsed = uuid.UUID(job_id)
        except ValueError:
            log.error("dropping a message with a malformed job id %r", job_id)
            return "invalid"
        try:
            outcome: str = holder.get().runner.run(parsed, stage).outcome
            return outcome
        except OperationalError as exc:  # the database is unreachable: try the message again later
            log.warning("database unavailable while running %s/%s: %s", job_id, stage, exc)
            raise self.retry(exc=exc, countdown=5, max_retries=None) from exc

    @app.task(name=MAINTAIN, ignore_result=True)  # type: ignore[untyped-decorator]
    def maintain() -> dict[str, int]:
        return holder.maintenance().run_once()

    _connect_worker_signals(holder)
    return app


class _ServicesHolder:
    """Per-process services: built on first use after fork, never shared across a fork."""

    def __init__(self, app: Celery, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._services: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        from mediajobs.services import build_services

        with self._lock:
            if self._services is None:
                self._services = build_services(
                    self.settings,
                    CeleryPublisher(self.app, self.settings.time_limits_for),
                    timeout_errors=(SoftTimeLimitExceeded,),
                )
            return self._services

    def maintenance(self) -> Maintenance:
        services = self.get()
        return Maintenance(services.store, services.dispatcher, self.settings)

    def forget_after_fork(self) -> None:
        if self._services is not None:
            self._services.engine.dispose(close=False)  # the parent's connections stay the parent's
        self._services = None


def _connect_worker_signals(holder: _ServicesHolder) -> None:
    def on_process_init(**_: Any) -> None:
        holder.forget_after_fork()

    def on_worker_ready(sender: Any = None, **_: Any) -> None:
        if sender is not None and getattr(sender, "app", None) is not holder.app:
            return
        try:  # a restarted worker re-dispatches what died with its predecessor
            figures = holder.maintenance().run_once()
            log.info("maintenance at worker start: %s", figures)
        except Exception:
            log.warning("maintenance at worker start failed", exc_info=True)

    signals.worker_process_init.connect(on_process_init, weak=False)
    signals.worker_ready.connect(on_worker_ready, weak=False)
