"""Reading the event log: replay for followers (`Last-Event-ID`), and the database-only follow."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from mediajobs.domain.events import ProgressEvent

from .base import StoreBase
from .mapping import event_from_row
from .tables import JobEventRow


class EventsMixin(StoreBase):
    def job_events(self, job_id: uuid.UUID, *, after_seq: int = 0, limit: int = 1000) -> list[ProgressEvent]:
        """A job's logged events with seq > after_seq, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(JobEventRow.__table__)
                .where(JobEventRow.job_id == job_id, JobEventRow.seq > after_seq)
                .order_by(JobEventRow.seq)
                .limit(limit)
            ).all()
        return [event_from_row(r) for r in rows]

    def owner_events(self, owner_id: str, *, after_id: int = 0, limit: int = 1000) -> list[ProgressEvent]:
        """Every job's events of one user with id > after_id, in the order they were written."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(JobEventRow.__table__)
                .where(JobEventRow.owner_id == owner_id, JobEventRow.id > after_id)
                .order_by(JobEventRow.id)
                .limit(limit)
            ).all()
        return [event_from_row(r) for r in rows]

    def last_event_id(self, owner_id: str) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(JobEventRow.id)
                .where(JobEventRow.owner_id == owner_id)
                .order_by(JobEventRow.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        return int(value or 0)

    def latest_event(self, job_id: uuid.UUID) -> ProgressEvent | None:
        """The job's most recent event (its latest progress and message), if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(JobEventRow.__table__)
                .where(JobEventRow.job_id == job_id)
                .order_by(JobEventRow.seq.desc())
                .limit(1)
            ).one_or_none()
        return None if row is None else event_from_row(row)
