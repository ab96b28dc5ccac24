"""What every part of the store shares: the engine, the clock, routing, and the outbox write."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, delete, insert, select, update

from mediajobs.domain import Job, JobStatus
from mediajobs.errors import NotFound

from .mapping import job_from_row
from .tables import JobRow, OutboxRow, StageRunRow

Clock = Callable[[], datetime]
QueueFor = Callable[[str], str]


def utcnow() -> datetime:
    return datetime.now(UTC)


class StoreBase:
    """The database side of mediajobs. Every write to job state goes through a subclass method."""

    def __init__(self, engine: Engine, *, clock: Clock = utcnow, queue_for: QueueFor | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.queue_for: QueueFor = queue_for or (lambda kind: kind)
        self._postgres = engine.dialect.name == "postgresql"

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _lock_job(self, conn: Connection, job_id: uuid.UUID) -> None:
        """Serialise writers of one job (row lock on PostgreSQL; SQLite already holds the write lock)."""
        if self._postgres:
            conn.execute(select(JobRow.id).where(JobRow.id == job_id).with_for_update())

    def _load_job(self, conn: Connection, job_id: uuid.UUID, owner_id: str | None = None) -> Job:
        query = select(JobRow.__table__).where(JobRow.id == job_id)
        if owner_id is not None:
            query = query.where(JobRow.owner_id == owner_id)
        row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFound(f"no job with id {job_id}")
        stages = conn.execute(select(StageRunRow.__table__).where(StageRunRow.job_id == job_id)).all()
        return job_from_row(row, stages)

    def _enqueue(
        self,
        conn: Connection,
        *,
        job_id: uuid.UUID,
        stage: str,
        kind: str,
        fence: int,
        delay: float = 0.0,
    ) -> None:
        """Mark a stage queued and write the message that will run it, in the caller's transaction."""
        now = self.clock()
        available = now + timedelta(seconds=delay)
        conn.execute(
            update(StageRunRow)
            .where(StageRunRow.job_id == job_id, StageRunRow.name == stage)
            .values(
                status="queued",
                available_at=available,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            )
        )
        conn.execute(
            insert(OutboxRow).values(
                job_id=job_id,
                stage=stage,
                queue=self.queue_for(kind),
                fence=fence,
                available_at=available,
                created_at=now,
                sent_at=None,
                publish_attempts=0,
            )
        )

    def _finish_cancelled(self, conn: Connection, job_id: uuid.UUID) -> None:
        now = self.clock()
        conn.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.status.in_(("queued", "running")))
            .values(
                status=JobStatus.CANCELLED.value,
                finished_at=now,
                updated_at=now,
                error_code="cancelled",
                error_message="cancelled by request",
            )
        )
        conn.execute(
            update(StageRunRow)
            .where(StageRunRow.job_id == job_id, StageRunRow.status.in_(("pending", "queued", "running")))
            .values(
                status="cancelled", lease_owner=None, lease_expires_at=None, finished_at=now, updated_at=now
            )
        )
        # Messages not yet published never need to be: the stage can no longer be claimed.
        conn.execute(delete(OutboxRow).where(OutboxRow.job_id == job_id, OutboxRow.sent_at.is_(None)))
