"""A stage message as the outbox holds it: what the dispatcher publishes and the broker carries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class OutboxMessage:
    id: int
    job_id: uuid.UUID
    stage: str
    queue: str
    fence: int
    available_at: datetime
    media_seconds: float | None = None  # the job's media length once measured: sizes time limits
    pipeline: str = ""  # the job's pipeline (its stage may declare its own time limit)


__all__ = ["OutboxMessage"]
