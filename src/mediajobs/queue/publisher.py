"""Publishes outbox messages as Celery task messages."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from celery import Celery

from mediajobs.settings import Settings
from mediajobs.store import OutboxMessage

from .config import celery_config
from .routing import hooks_queue

RUN_STAGE = "mediajobs.run_stage"
DELIVER = "mediajobs.deliver"

# Fail fast when the broker is down: the outbox keeps the message and the relay tries again later.
_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.3}


TimeLimits = Callable[[str, str, float | None], tuple[int, int]]
"""(pipeline, stage, media seconds) -> (soft, hard) time limit in seconds (`Registry.time_limits`)."""


class CeleryPublisher:
    def __init__(
        self, app: Any, time_limits: TimeLimits | None = None, *, hooks_queue: str = "hooks"
    ) -> None:
        self.app = app
        self.time_limits = time_limits
        self.hooks_queue = hooks_queue

    def publish_delivery(self, delivery_id: int) -> None:
        self.app.send_task(
            DELIVER,
            args=[delivery_id],
            queue=self.hooks_queue,
            routing_key=self.hooks_queue,
            retry=True,
            retry_policy=_RETRY_POLICY,
        )

    def publish(self, message: OutboxMessage) -> None:
        self.app.send_task(
            RUN_STAGE,
            args=[str(message.job_id), message.stage],
            queue=message.queue,
            routing_key=message.queue,
            retry=True,
            retry_policy=_RETRY_POLICY,
            headers={"mediajobs_outbox_id": message.id, "mediajobs_fence": message.fence},
            **self._limits(message),
        )

    def _limits(self, message: OutboxMessage) -> dict[str, int]:
        if self.time_limits is None:
            return {}
        soft, hard = self.time_limits(message.pipeline, message.stage, message.media_seconds)
        return {"soft_time_limit": soft, "time_limit": hard}

    def queue_sizes(self, queues: Iterable[str]) -> dict[str, int]:
        """Messages waiting per queue (Redis: every priority list of the queue; the filesystem
        broker: its message files). Messages workers took and have not acknowledged do not count."""
        with self.app.connection_for_read() as conn:
            channel = conn.default_channel
            return {queue: int(channel.queue_declare(queue=queue).message_count) for queue in queues}

    def ping(self) -> None:
        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=2)


def build_publisher(settings: Settings, queues: Sequence[str], time_limits: TimeLimits) -> CeleryPublisher:
    """A publisher for processes that only send stage messages (the API): a Celery app with the
    broker settings and no tasks, signals or schedule of its own."""
    app = Celery("mediajobs-publisher", broker=settings.resolved_broker_url)
    app.conf.update(celery_config(settings, queues))
    return CeleryPublisher(app, time_limits, hooks_queue=hooks_queue(settings.queue_prefix))
