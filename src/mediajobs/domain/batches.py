"""Batches: many jobs under one handle. A batch never waits on a failed item: it ends when its last
item ends, and says exactly how (Sidekiq separates "complete" from "success"; BullMQ's parent that
waits forever once a child fails is the trap this avoids)."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .models import OPEN_JOB_STATUSES, JobStatus

MAX_BATCH_ITEMS = 1000


class BatchStatus(enum.StrEnum):
    RUNNING = "running"  # some item has not ended yet
    SUCCEEDED = "succeeded"  # every item succeeded
    COMPLETED_WITH_FAILURES = "completed_with_failures"  # all ended, some failed or were cancelled
    FAILED = "failed"  # all ended, none succeeded
    CANCELLED = "cancelled"  # it was cancelled, and every item has ended


@dataclass(frozen=True, kw_only=True, slots=True)
class Batch:
    id: uuid.UUID
    owner_id: str
    status: BatchStatus
    items: int
    created_at: datetime
    updated_at: datetime
    name: str | None = None
    cancel_requested_at: datetime | None = None
    finished_at: datetime | None = None
    callback_url: str | None = None  # where its end is announced (a webhook)
    counts: Mapping[str, int] = field(default_factory=dict)  # items by job status

    @property
    def ended(self) -> int:
        """How many items have ended (whatever their outcome)."""
        return sum(n for status, n in self.counts.items() if JobStatus(status) not in OPEN_JOB_STATUSES)

    @property
    def progress(self) -> float:
        return round(100.0 * self.ended / self.items, 2) if self.items else 100.0


def batch_status(counts: Mapping[str, int], *, cancel_requested: bool) -> BatchStatus:
    """What a batch is, from its items' statuses: running while any is open, else how it ended."""
    if any(n for status, n in counts.items() if JobStatus(status) in OPEN_JOB_STATUSES):
        return BatchStatus.RUNNING
    if cancel_requested:
        return BatchStatus.CANCELLED
    total = sum(counts.values())
    succeeded = counts.get(JobStatus.SUCCEEDED.value, 0)
    if succeeded == total:
        return BatchStatus.SUCCEEDED
    if succeeded == 0:
        return BatchStatus.FAILED
    return BatchStatus.COMPLETED_WITH_FAILURES


__all__ = ["MAX_BATCH_ITEMS", "Batch", "BatchStatus", "batch_status"]
