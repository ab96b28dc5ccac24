"""The Celery application: one queue per (lane, stage kind), and thin tasks.

Tasks only decode ids and hand them to the process's `TaskHandler` (built by mediajobs.worker), so
this module knows nothing of the store, the runner or the services. Job truth is in the database,
so Celery's result backend is optional (off unless CELERY_RESULT_BACKEND is set).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from celery import Celery, signals

from mediajobs.domain.budget import TaskBudget
from mediajobs.errors import StoreUnavailable
from mediajobs.logconfig import configure_logging
from mediajobs.settings import Settings

from .config import celery_config
from .publisher import DELIVER, RUN_STAGE
from .schedule import MAINTAIN, PERIODIC, beat_schedule

log = logging.getLogger(__name__)

DATABASE_RETRY_SECONDS = 5


class TaskHandler(Protocol):
    """What a worker process does with its tasks."""

    def run_stage(self, job_id: uuid.UUID, stage: str, budget: TaskBudget | None = None) -> str: ...

    def maintain(self) -> dict[str, int]: ...

    def periodic(self, name: str) -> dict[str, Any] | None: ...

    def deliver(self, delivery_id: int) -> str: ...


def use_our_logging(*, role: str, level: str, log_format: str) -> list[str]:
    """Log in mediajobs' format (logconfig.py) in this process and in the pool processes Celery forks
    (Celery configures no logging of its own when `setup_logging` has a receiver); the `celery`
    options to start it with: `--quiet` (no banner) when the lines are JSON."""
    chosen = configure_logging(role=role, level=level, log_format=log_format)

    def again(loglevel: Any = None, **_: Any) -> None:
        configure_logging(role=role, level=loglevel or level, log_format=log_format)

    signals.setup_logging.connect(again, weak=False)
    return ["--quiet"] if chosen == "json" else []


def create_celery_app(
    settings: Settings,
    queues: Sequence[str],
    *,
    handler: Callable[[], TaskHandler] | None = None,
    with_schedule: bool = False,
) -> Celery:
    """The app of a worker (`handler` given) or of beat (`with_schedule`); `queues`: every queue of
    the deployment (`Registry.queues()`)."""
    app = Celery("mediajobs", broker=settings.resolved_broker_url, backend=settings.result_backend)
    app.conf.update(celery_config(settings, queues))
    if with_schedule:
        app.conf.beat_schedule = beat_schedule(settings)

    def get_handler() -> TaskHandler:
        if handler is None:
            raise RuntimeError("this Celery app only sends tasks; run them with `mediajobs worker`")
        return handler()

    @app.task(name=RUN_STAGE, bind=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def run_stage(self: Any, job_id: str, stage: str) -> str:
        try:
            parsed = uuid.UUID(job_id)
        except ValueError:
            log.error("dropping a message with a malformed job id %r", job_id)
            return "invalid"
        try:
            return get_handler().run_stage(parsed, stage, _budget(app, self.request))
        except StoreUnavailable as exc:  # the database is unreachable: try the message again later
            log.warning("database unavailable while running %s/%s: %s", job_id, stage, exc)
            raise self.retry(exc=exc, countdown=DATABASE_RETRY_SECONDS, max_retries=None) from exc

    @app.task(name=MAINTAIN, ignore_result=True)  # type: ignore[untyped-decorator]
    def maintain() -> dict[str, int]:
        return get_handler().maintain()

    @app.task(name=PERIODIC, ignore_result=True)  # type: ignore[untyped-decorator]
    def periodic(name: str) -> dict[str, Any] | None:
        return get_handler().periodic(name)

    @app.task(name=DELIVER, bind=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def deliver(self: Any, delivery_id: int) -> str:
        try:
            return get_handler().deliver(int(delivery_id))
        except StoreUnavailable as exc:
            raise self.retry(exc=exc, countdown=DATABASE_RETRY_SECONDS, max_retries=None) from exc

    return app


def _budget(app: Celery, request: Any) -> TaskBudget:
    """The running task's time limits as Celery applies them: the message's, else the app's."""
    hard, soft = getattr(request, "timelimit", None) or (None, None)
    return TaskBudget(
        started=time.monotonic(),
        soft=soft or app.conf.task_soft_time_limit,
        hard=hard or app.conf.task_time_limit,
    )


__all__ = ["TaskHandler", "create_celery_app", "use_our_logging"]
