"""The dispatcher's and reaper's side of the store: outbox messages and expired leases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from mediajobs.domain import ErrorInfo

from .base import StoreBase
from .tables import AttemptRow, JobRow, OutboxRow, StageRunRow


@dataclass(frozen=True, kw_only=True, slots=True)
class OutboxMessage:
    id: int
    job_id: uuid.UUID
    stage: str
    queue: str
    fence: int
    available_at: datetime


@dataclass(kw_only=True)
class OutboxBatch:
    """Due messages, locked for this dispatcher until the batch's transaction ends."""

    messages: Sequence[OutboxMessage]
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def mark_sent(self, message: OutboxMessage) -> None:
        self.sent.append(message.id)

    def mark_failed(self, message: OutboxMessage) -> None:
        self.failed.append(message.id)


@dataclass(frozen=True, kw_only=True, slots=True)
class Reaped:
    job_id: uuid.UUID
    stage: str
    requeued: bool  # False: the stage ran out of attempts and the job failed


class OutboxMixin(StoreBase):
    @contextmanager
    def outbox_batch(
        self, *, limit: int = 100, ids: Sequence[int] | None = None, job_id: uuid.UUID | None = None
    ) -> Iterator[OutboxBatch]:
        """Lock due, unsent messages (or the given ones); on exit record which were published.

        Not durable: if a crash loses the "sent" mark, the message is published again, and the claim
        makes the duplicate harmless.
        """
        now = self.clock()
        with self._tx(durable=False) as conn:
            query = select(OutboxRow.__table__).where(OutboxRow.sent_at.is_(None))
            if ids is not None:
                query = query.where(OutboxRow.id.in_(list(ids)))
            if job_id is not None:
                query = query.where(OutboxRow.job_id == job_id)
            query = query.where(OutboxRow.available_at <= now).order_by(OutboxRow.id).limit(limit)
            if self._postgres:
                query = query.with_for_update(skip_locked=True)
            rows = conn.execute(query).all()
            batch = OutboxBatch(
                messages=[
                    OutboxMessage(
                        id=r.id,
                        job_id=r.job_id,
                        stage=r.stage,
                        queue=r.queue,
                        fence=r.fence,
                        available_at=r.available_at,
                    )
                    for r in rows
                ]
            )
            yield batch
            if batch.sent:
                conn.execute(
                    update(OutboxRow).where(OutboxRow.id.in_(batch.sent)).values(sent_at=self.clock())
                )
            if batch.failed:
                conn.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id.in_(batch.failed))
                    .values(publish_attempts=OutboxRow.publish_attempts + 1)
                )

    def unsent_ids(self, job_id: uuid.UUID) -> list[int]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(OutboxRow.id).where(OutboxRow.job_id == job_id, OutboxRow.sent_at.is_(None))
                ).scalars()
            )

    def pending_outbox_count(self) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(OutboxRow.id).where(OutboxRow.sent_at.is_(None))).all())

    def reap_expired_leases(self, *, max_attempts: int, limit: int = 100) -> list[Reaped]:
        """Re-queue stages whose runner stopped renewing its lease (killed, frozen, partitioned)."""
        now = self.clock()
        with self.engine.connect() as conn:
            expired = conn.execute(
                select(
                    StageRunRow.job_id,
                    StageRunRow.name,
                    StageRunRow.kind,
                    StageRunRow.fence,
                    StageRunRow.attempts,
                    StageRunRow.budget_start,
                )
                .where(StageRunRow.status == "running", StageRunRow.lease_expires_at < now)
                .limit(limit)
            ).all()
        reaped: list[Reaped] = []
        for row in expired:
            with self._tx() as conn:
                self._lock_job(conn, row.job_id)
                result = conn.execute(
                    update(StageRunRow)
                    .where(
                        StageRunRow.job_id == row.job_id,
                        StageRunRow.name == row.name,
                        StageRunRow.fence == row.fence,
                        StageRunRow.status == "running",
                        StageRunRow.lease_expires_at < now,
                    )
                    .values(fence=row.fence + 1, lease_owner=None, lease_expires_at=None, updated_at=now)
                )
                if result.rowcount != 1:
                    continue  # renewed or taken over meanwhile
                lost = ErrorInfo(code="worker_lost", message="the worker stopped renewing its lease")
                self._close_open_attempts(conn, row.job_id, row.name, lost)
                if self._cancel_requested(conn, row.job_id):
                    self._finish_cancelled(conn, row.job_id)
                    reaped.append(Reaped(job_id=row.job_id, stage=row.name, requeued=False))
                elif row.attempts - row.budget_start >= max_attempts:
                    self._fail_lost(conn, row.job_id, row.name, row.attempts)
                    reaped.append(Reaped(job_id=row.job_id, stage=row.name, requeued=False))
                else:
                    self._enqueue(conn, job_id=row.job_id, stage=row.name, kind=row.kind, fence=row.fence + 1)
                    self._emit(
                        conn,
                        row.job_id,
                        stage=row.name,
                        stage_status="queued",
                        message="the worker stopped renewing its lease; re-queued",
                    )
                    reaped.append(Reaped(job_id=row.job_id, stage=row.name, requeued=True))
        return reaped

    def redispatch_stale(self, *, older_than: timedelta, limit: int = 100) -> int:
        """Publish again the message of stages queued for longer than `older_than` with no claim.

        A message can vanish without any acknowledgement noticing (a worker killed between receiving
        and claiming it, a filesystem broker, a broker that lost data). Duplicates are harmless: the
        claim lets exactly one delivery run the stage.
        """
        now = self.clock()
        unsent = select(OutboxRow.id).where(
            OutboxRow.job_id == StageRunRow.job_id,
            OutboxRow.stage == StageRunRow.name,
            OutboxRow.sent_at.is_(None),
        )
        with self.engine.connect() as conn:
            stale = conn.execute(
                select(StageRunRow.job_id, StageRunRow.name, StageRunRow.kind, StageRunRow.fence)
                .where(
                    StageRunRow.status == "queued",
                    StageRunRow.available_at < now - older_than,
                    ~unsent.exists(),
                )
                .limit(limit)
            ).all()
        count = 0
        for row in stale:
            with self._tx() as conn:
                self._lock_job(conn, row.job_id)
                still = conn.execute(
                    update(StageRunRow)
                    .where(
                        StageRunRow.job_id == row.job_id,
                        StageRunRow.name == row.name,
                        StageRunRow.status == "queued",
                        StageRunRow.fence == row.fence,
                        StageRunRow.available_at < now - older_than,
                    )
                    .values(updated_at=now)
                ).rowcount
                if still == 1:
                    self._enqueue(conn, job_id=row.job_id, stage=row.name, kind=row.kind, fence=row.fence)
                    count += 1
        return count

    def _cancel_requested(self, conn: Connection, job_id: uuid.UUID) -> bool:
        return (
            conn.execute(select(JobRow.cancel_requested_at).where(JobRow.id == job_id)).scalar_one_or_none()
            is not None
        )

    def _close_open_attempts(self, conn: Connection, job_id: uuid.UUID, stage: str, error: ErrorInfo) -> None:
        conn.execute(
            update(AttemptRow)
            .where(AttemptRow.job_id == job_id, AttemptRow.stage == stage, AttemptRow.finished_at.is_(None))
            .values(
                finished_at=self.clock(), outcome="lost", error_code=error.code, error_message=error.message
            )
        )

    def _fail_lost(self, conn: Connection, job_id: uuid.UUID, stage: str, attempts: int) -> None:
        now = self.clock()
        error = ErrorInfo(
            code="worker_lost", message=f"stage {stage} was lost with its worker {attempts} times; giving up"
        )
        conn.execute(
            update(StageRunRow)
            .where(StageRunRow.job_id == job_id, StageRunRow.name == stage)
            .values(
                status="failed",
                error_code=error.code,
                error_message=error.message,
                finished_at=now,
                updated_at=now,
            )
        )
        self._fail_job(conn, job_id, error)
