"""What every part of the store shares: the engine, the clock, routing, and the outbox write."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from mediajobs.domain import ErrorInfo, Job, JobStatus
from mediajobs.domain.events import EventType, ProgressEvent
from mediajobs.errors import NotFound

from .mapping import job_from_row
from .tables import JobEventRow, JobRow, OutboxRow, StageRunRow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
QueueFor = Callable[[str], str]
EventSink = Callable[[Sequence[ProgressEvent]], None]
"""Receives events after the transaction that wrote them committed (e.g. Redis pub/sub)."""

MAX_EVENTS_PER_JOB = 1000
_EVENTS_KEY = "mediajobs.events"


def utcnow() -> datetime:
    return datetime.now(UTC)


class StoreBase:
    """The database side of mediajobs. Every write to job state goes through a subclass method."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = utcnow,
        queue_for: QueueFor | None = None,
        event_sink: EventSink | None = None,
        idempotency_ttl: timedelta = timedelta(hours=24),
    ) -> None:
        self.engine = engine
        self.idempotency_ttl = idempotency_ttl
        self.clock = clock
        self.queue_for: QueueFor = queue_for or (lambda kind: kind)
        self.event_sink = event_sink
        self._postgres = engine.dialect.name == "postgresql"

    @contextmanager
    def _tx(self, *, durable: bool = True) -> Iterator[Connection]:
        """A write transaction; the events it logged go to the event sink once it committed.

        `durable=False` commits without waiting for the WAL flush (PostgreSQL): for writes whose loss
        in a database crash is harmless (lease renewals, progress ticks, marking messages sent).
        """
        events: list[ProgressEvent] = []
        with self.engine.begin() as conn:
            if not durable and self._postgres:
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            # Keep the dict itself: touching `conn.info` after the connection was lost would try to
            # reconnect and replace the real error with PendingRollbackError.
            info = conn.info
            info[_EVENTS_KEY] = events
            try:
                yield conn
            finally:
                info.pop(_EVENTS_KEY, None)
        if events and self.event_sink is not None:
            try:
                self.event_sink(events)
            except Exception:  # live delivery is best effort; the event log is the record
                log.warning("could not hand %d events to the event sink", len(events), exc_info=True)

    def _emit(
        self,
        conn: Connection,
        job_id: uuid.UUID,
        *,
        type: EventType = EventType.STATE,
        stage: str | None = None,
        stage_status: str | None = None,
        stage_percent: float | None = None,
        message: str | None = None,
    ) -> ProgressEvent:
        """Log an event of the job in the caller's transaction (after its state change)."""
        job = conn.execute(
            update(JobRow)
            .where(JobRow.id == job_id)
            .values(event_seq=JobRow.event_seq + 1)
            .returning(JobRow.event_seq, JobRow.owner_id, JobRow.status, JobRow.progress, JobRow.source_name)
        ).one()
        at = self.clock()
        values: dict[str, Any] = dict(
            job_id=job_id,
            owner_id=job.owner_id,
            seq=job.event_seq,
            type=type.value,
            status=job.status,
            stage=stage,
            stage_status=stage_status,
            stage_percent=stage_percent,
            job_percent=job.progress,
            file=job.source_name,
            message=message,
            at=at,
        )
        event_id = conn.execute(insert(JobEventRow).values(**values).returning(JobEventRow.id)).scalar_one()
        if job.event_seq % 100 == 0:
            conn.execute(
                delete(JobEventRow).where(
                    JobEventRow.job_id == job_id, JobEventRow.seq <= job.event_seq - MAX_EVENTS_PER_JOB
                )
            )
        values.update(id=event_id, type=type)
        event = ProgressEvent(**values)
        pending = conn.info.get(_EVENTS_KEY)
        if pending is not None:
            pending.append(event)
        return event

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
        cancelled = conn.execute(
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
        if cancelled.rowcount == 1:
            self._emit(conn, job_id, message="cancelled by request")

    def _fail_job(self, conn: Connection, job_id: uuid.UUID, error: ErrorInfo) -> None:
        now = self.clock()
        failed = conn.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.status.in_(("queued", "running")))
            .values(
                status=JobStatus.FAILED.value,
                error_code=error.code,
                error_message=error.message,
                finished_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            update(StageRunRow)
            .where(StageRunRow.job_id == job_id, StageRunRow.status.in_(("pending", "queued")))
            .values(status="cancelled", updated_at=now)
        )
        conn.execute(delete(OutboxRow).where(OutboxRow.job_id == job_id, OutboxRow.sent_at.is_(None)))
        if failed.rowcount == 1:
            self._emit(conn, job_id, message=f"job failed: {error.code}: {error.message}")
