"""Celery settings that keep work safe, shared by every process that talks to the broker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kombu.entity import Queue

from mediajobs.settings import Settings

from .routing import maintenance_queue


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
        # BRPOP the worker's queues in their given order (fastest lane first), not round-robin: a
        # worker serving several lanes always takes express work before standard and batch work.
        "queue_order_strategy": "priority",
        # kombu sweeps for expired unacked messages every interval * throttle seconds (100 s by
        # default); keep the sweep in step with a short visibility timeout.
        "unacked_restore_interval": min(10, max(1, timeout // 4)),
        "unacked_restore_throttle": 1 if timeout < 100 else 10,
    }


def celery_config(settings: Settings, queues: Sequence[str]) -> dict[str, Any]:
    """`app.conf` of every mediajobs Celery app (worker, beat, and the API's publisher); `queues`:
    every queue of the deployment (`Registry.queues()`)."""
    prefix = settings.queue_prefix
    return dict(
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
        task_queues=[Queue(name) for name in queues],  # type: ignore[no-untyped-call]
        task_default_queue=maintenance_queue(prefix),
        task_create_missing_queues=True,
        task_send_sent_event=settings.task_events,
        worker_send_task_events=settings.task_events,
    )


__all__ = ["broker_transport_options", "celery_config"]
