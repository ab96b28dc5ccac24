"""Reads of the event log that the store does not offer (read-only, through the store's engine)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from mediajobs.domain.events import ProgressEvent
from mediajobs.store import JobStore
from mediajobs.store.events import event_from_row
from mediajobs.store.tables import JobEventRow


def latest_event(store: JobStore, job_id: uuid.UUID) -> ProgressEvent | None:
    """The job's most recent event (its latest progress and message), if any."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(JobEventRow.__table__)
            .where(JobEventRow.job_id == job_id)
            .order_by(JobEventRow.seq.desc())
            .limit(1)
        ).one_or_none()
    return None if row is None else event_from_row(row)


__all__ = ["latest_event"]
