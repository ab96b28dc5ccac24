"""Batches: many jobs written in one transaction with multi-row inserts, read with their counts, and
ended in the transaction that ends their last item (batch_end.py, called from writes._finished).

Lock order: a job's row before its batch's (an item's end locks both, in that order); a batch cancel
or retry never holds the batch row while it touches an item.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from mediajobs.domain import OPEN_JOB_STATUSES, JobStatus, Pipeline, StageRun, StageStatus
from mediajobs.domain.batches import Batch, BatchStatus
from mediajobs.domain.tenancy import TierLimits
from mediajobs.domain.transitions import ready_stages
from mediajobs.errors import Conflict, NotFound

from .admission import Admission, JobKey
from .batch_end import batch_counts, close_if_done
from .bulk import bulk_insert
from .events import JobHead, Note, log_first_events
from .tables import BatchRow, JobRow, StageRunRow
from .tx import Database, Tx
from .users import charge


@dataclass(frozen=True, kw_only=True, slots=True)
class BatchItem:
    """One item, checked: a job to write."""

    index: int
    pipeline: Pipeline
    source: str
    options: dict[str, Any]
    name: str | None = None
    source_name: str | None = None
    upload_id: uuid.UUID | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class BatchPage:
    batches: tuple[Batch, ...]
    next_cursor: str | None


class Batches:
    def __init__(self, db: Database, admission: Admission) -> None:
        self._db = db
        self._admission = admission

    # -- writing ----------------------------------------------------------------------------------

    def create_batch(
        self,
        *,
        owner_id: str,
        lane: str,
        items: Sequence[BatchItem],
        name: str | None = None,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
        quota: TierLimits | None = None,
        callback_url: str | None = None,
    ) -> tuple[Batch, bool]:
        """The batch and every item's job, stage rows and first event in one transaction; the items'
        first stages wait for admission like any job's (after the commit). (batch, created): an
        Idempotency-Key already used for the same body answers the first batch. With `quota`, every
        item must fit the owner's monthly quotas (else TooManyRequests, nothing written)."""
        if idempotency_key is not None:
            existing = self._by_key(owner_id, idempotency_key, request_hash)
            if existing is not None:
                return existing, False
        batch_id = uuid.uuid4()
        try:
            with self._db.tx() as tx:
                self._insert(
                    tx,
                    batch_id,
                    owner_id,
                    lane,
                    items,
                    name,
                    idempotency_key,
                    request_hash,
                    quota,
                    callback_url,
                )
        except IntegrityError:
            found = self._by_key(owner_id, idempotency_key, request_hash) if idempotency_key else None
            if found is None:
                raise
            return found, False
        return self.get_batch(batch_id), True

    def _insert(
        self,
        tx: Tx,
        batch_id: uuid.UUID,
        owner_id: str,
        lane: str,
        items: Sequence[BatchItem],
        name: str | None,
        idempotency_key: str | None,
        request_hash: str | None,
        quota: TierLimits | None,
        callback_url: str | None,
    ) -> None:
        now = tx.now
        tx.conn.execute(
            insert(BatchRow).values(
                id=batch_id,
                owner_id=owner_id,
                name=name,
                items=len(items),
                status=BatchStatus.RUNNING,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                callback_url=callback_url,
                created_at=now,
                updated_at=now,
            )
        )
        jobs: list[dict[str, Any]] = []
        stage_rows: list[dict[str, Any]] = []
        heads: list[JobHead] = []
        for item in items:
            job_id = uuid.uuid4()
            created = now + timedelta(microseconds=item.index)  # admission takes the items in order
            item_runs = [
                StageRun(
                    job_id=job_id, name=s.name, kind=s.kind.name, run=s.code_name, status=StageStatus.PENDING
                )
                for s in item.pipeline.stages
            ]
            roots = {r.name for r in ready_stages(item.pipeline, item_runs)}
            admitted = {} if self._admission.holds else self._admission.decide_new(
                tx, JobKey(id=job_id, owner_id=owner_id, lane=lane, created_at=created),
                [r for r in item_runs if r.name in roots],
            )  # fmt: skip
            item_runs = [
                replace(r, status=StageStatus.QUEUED, available_at=now, routed_lane=admitted[r.name])
                if r.name in admitted
                else replace(r, status=StageStatus.READY, available_at=now)
                if r.name in roots
                else r
                for r in item_runs
            ]
            stage_rows += (_stage_row(run, position, now) for position, run in enumerate(item_runs))
            if admitted:
                key = JobKey(id=job_id, owner_id=owner_id, lane=lane, created_at=created)
                self._admission.send(tx, key, [r for r in item_runs if r.status is StageStatus.QUEUED])
            jobs.append(
                dict(
                    id=job_id,
                    owner_id=owner_id,
                    pipeline=item.pipeline.name,
                    source=item.source,
                    options=dict(item.options),
                    status=JobStatus.QUEUED,
                    lane=lane,
                    progress=0.0,
                    source_name=item.source_name,
                    upload_id=item.upload_id,
                    event_seq=1,
                    batch_id=batch_id,
                    batch_index=item.index,
                    item_name=item.name,
                    created_at=created,
                    updated_at=now,
                )
            )
            heads.append(
                JobHead(
                    job_id=job_id,
                    owner_id=owner_id,
                    status=JobStatus.QUEUED,
                    progress=0.0,
                    file=item.source_name,
                    seq=0,
                )
            )
        if self._admission.holds:
            tx.waiting_for.add(owner_id)  # the items' first stages: admitted after the commit
        bulk_insert(tx, JobRow, jobs)
        bulk_insert(tx, StageRunRow, stage_rows)
        log_first_events(tx, heads, Note(message="job accepted (batch item)"))
        charge(tx, owner_id, jobs=len(items), quota=quota)  # last: the usage row stays locked till the commit

    def request_cancel(self, batch_id: uuid.UUID, owner_id: str | None) -> list[uuid.UUID]:
        """Mark the batch cancelled; the ids of its items that have not ended (the caller cancels each)."""
        with self._db.tx() as tx:
            row = self._row(tx.conn, batch_id, owner_id)
            if row.finished_at is not None:
                raise Conflict(f"batch {batch_id} is already {row.status}", code="batch_finished")
            tx.conn.execute(
                update(BatchRow)
                .where(BatchRow.id == batch_id)
                .values(cancel_requested_at=row.cancel_requested_at or tx.now, updated_at=tx.now)
            )
            return list(
                tx.conn.execute(
                    select(JobRow.id)
                    .where(JobRow.batch_id == batch_id, JobRow.status.in_(sorted(OPEN_JOB_STATUSES)))
                    .order_by(JobRow.batch_index)
                ).scalars()
            )

    def reopen(self, batch_id: uuid.UUID, owner_id: str | None) -> list[uuid.UUID]:
        """The batch runs again (before its failed and cancelled items are retried); their ids."""
        with self._db.tx() as tx:
            self._row(tx.conn, batch_id, owner_id)
            again = list(
                tx.conn.execute(
                    select(JobRow.id)
                    .where(
                        JobRow.batch_id == batch_id,
                        JobRow.status.in_([JobStatus.CANCELLED, JobStatus.FAILED]),
                    )
                    .order_by(JobRow.batch_index)
                ).scalars()
            )
            if not again:
                raise Conflict(
                    f"batch {batch_id} has no failed or cancelled item to retry", code="nothing_to_retry"
                )
            tx.conn.execute(
                update(BatchRow)
                .where(BatchRow.id == batch_id)
                .values(
                    status=BatchStatus.RUNNING, finished_at=None, cancel_requested_at=None, updated_at=tx.now
                )
            )
            return again

    def close_if_ended(self, batch_id: uuid.UUID) -> None:
        """End the batch now if none of its items is open (after a retry that found nothing to run)."""
        with self._db.tx() as tx:
            close_if_done(tx, batch_id)

    # -- reading ----------------------------------------------------------------------------------

    def get_batch(self, batch_id: uuid.UUID, owner_id: str | None = None) -> Batch:
        with self._db.read() as conn:
            row = self._row(conn, batch_id, owner_id)
            return _batch(row, batch_counts(conn, batch_id))

    def list_batches(
        self, *, owner_id: str | None, limit: int = 50, before: datetime | None = None
    ) -> list[Batch]:
        """The caller's batches, newest first (an admin's: everybody's)."""
        query = select(BatchRow.__table__)
        if owner_id is not None:
            query = query.where(BatchRow.owner_id == owner_id)
        if before is not None:
            query = query.where(BatchRow.created_at < before)
        with self._db.read() as conn:
            rows = conn.execute(
                query.order_by(BatchRow.created_at.desc(), BatchRow.id.desc()).limit(limit)
            ).all()
            return [_batch(r, batch_counts(conn, r.id)) for r in rows]

    def item_page(self, batch_id: uuid.UUID, *, after: int = -1, limit: int = 100) -> list[Any]:
        """Items (their job rows) after index `after`, in order."""
        with self._db.read() as conn:
            return list(
                conn.execute(
                    select(JobRow.__table__)
                    .where(JobRow.batch_id == batch_id, JobRow.batch_index > after)
                    .order_by(JobRow.batch_index)
                    .limit(limit)
                ).all()
            )

    def item_ids(self, batch_id: uuid.UUID) -> list[uuid.UUID]:
        with self._db.read() as conn:
            return list(
                conn.execute(
                    select(JobRow.id).where(JobRow.batch_id == batch_id).order_by(JobRow.batch_index)
                ).scalars()
            )

    def _row(self, conn: Connection, batch_id: uuid.UUID, owner_id: str | None) -> Any:
        query = select(BatchRow.__table__).where(BatchRow.id == batch_id)
        if owner_id is not None:
            query = query.where(BatchRow.owner_id == owner_id)
        row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFound(f"no batch with id {batch_id}")
        return row

    def _by_key(self, owner_id: str, key: str, request_hash: str | None) -> Batch | None:
        with self._db.read() as conn:
            row = conn.execute(
                select(BatchRow.__table__).where(
                    BatchRow.owner_id == owner_id, BatchRow.idempotency_key == key
                )
            ).one_or_none()
            if row is None:
                return None
            if row.request_hash != request_hash:
                raise Conflict(
                    "this Idempotency-Key was already used with a different request body",
                    code="idempotency_key_reused",
                )
            return _batch(row, batch_counts(conn, row.id))


def _batch(row: Any, counts: dict[str, int]) -> Batch:
    return Batch(
        id=row.id,
        owner_id=row.owner_id,
        status=BatchStatus(row.status),
        items=row.items,
        name=row.name,
        created_at=row.created_at,
        updated_at=row.updated_at,
        cancel_requested_at=row.cancel_requested_at,
        finished_at=row.finished_at,
        callback_url=row.callback_url,
        counts=counts,
    )


def _stage_row(run: StageRun, position: int, now: datetime) -> dict[str, Any]:
    return dict(
        job_id=run.job_id,
        name=run.name,
        kind=run.kind,
        run=run.run,
        parent=None,
        child_index=None,
        params=None,
        routed_lane=run.routed_lane,
        position=position,
        status=run.status,
        attempts=0,
        budget_start=0,
        progress=0.0,
        fence=0,
        available_at=run.available_at,
        updated_at=now,
    )


__all__ = ["BatchItem", "BatchPage", "Batches"]
