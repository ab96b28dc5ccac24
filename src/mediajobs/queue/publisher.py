"""Publishes outbox messages as Celery task messages."""

from __future__ import annotations

from typing import Any

from mediajobs.store import OutboxMessage

RUN_STAGE = "mediajobs.run_stage"

# Fail fast when the broker is down: the outbox keeps the message and the relay tries again later.
_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.3}


class CeleryPublisher:
    def __init__(self, app: Any) -> None:
        self.app = app

    def publish(self, message: OutboxMessage) -> None:
        self.app.send_task(
            RUN_STAGE,
            args=[str(message.job_id), message.stage],
            queue=message.queue,
            routing_key=message.queue,
            retry=True,
            retry_policy=_RETRY_POLICY,
            headers={"mediajobs_outbox_id": message.id, "mediajobs_fence": message.fence},
        )

    def ping(self) -> None:
        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=2)
