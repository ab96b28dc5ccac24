"""The outbox: stage messages written in the same transaction as the state they follow, and the
dispatcher's side (lock due messages, record which were published)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, insert, select, update

from .messages import OutboxMessage
from .tables import JobRow, OutboxRow
from .tx import Database, QueueFor, Tx


@dataclass(frozen=True, kw_only=True, slots=True)
class Send:
    """A message to write: run `stage` of `job_id` (whose fencing token is `fence`) on `kind`'s queue."""

    stage: str
    kind: str
    fence: int


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


def write_messages(
    tx: Tx,
    queue_for: QueueFor,
    *,
    job_id: uuid.UUID,
    lane: str,
    sends: Sequence[Send],
    delay: float = 0.0,
) -> None:
    """Outbox rows for `sends`. Messages due now are also kept in `tx.outgoing`, with the row ids the
    insert returned, for the committing process to publish right after the commit; the relay
    publishes those it did not (and every delayed message once due)."""
    if not sends:
        return
    available = tx.now + timedelta(seconds=delay)
    queues = [queue_for(lane, send.kind) for send in sends]
    rows = [
        dict(
            job_id=job_id,
            stage=send.stage,
            queue=queue,
            fence=send.fence,
            available_at=available,
            created_at=tx.now,
            sent_at=None,
            publish_attempts=0,
        )
        for send, queue in zip(sends, queues, strict=True)
    ]
    if delay > 0:
        tx.conn.execute(insert(OutboxRow), rows)
        return
    seconds = select(JobRow.media_seconds).where(JobRow.id == job_id).scalar_subquery()
    pipeline = select(JobRow.pipeline).where(JobRow.id == job_id).scalar_subquery()
    returning = insert(OutboxRow).returning(
        OutboxRow.id, seconds.label("media_seconds"), pipeline.label("pipeline"), sort_by_parameter_order=True
    )
    written = tx.conn.execute(returning, rows).all()
    tx.outgoing.extend(
        OutboxMessage(
            id=w.id,
            job_id=job_id,
            stage=send.stage,
            queue=queue,
            fence=send.fence,
            available_at=available,
            media_seconds=w.media_seconds,
            pipeline=w.pipeline,
        )
        for w, send, queue in zip(written, sends, queues, strict=True)
    )


class Outbox:
    def __init__(self, db: Database) -> None:
        self._db = db

    @contextmanager
    def outbox_batch(
        self,
        *,
        limit: int = 100,
        ids: Sequence[int] | None = None,
        job_id: uuid.UUID | None = None,
        older_than: timedelta = timedelta(0),
    ) -> Iterator[OutboxBatch]:
        """Lock due, unsent messages (or the given ones), due for at least `older_than`; on exit record
        which were published.

        Not durable: if a crash loses the "sent" mark, the message is published again, and the claim
        makes the duplicate harmless.
        """
        with self._db.tx(durable=False) as tx:
            job = JobRow.id == OutboxRow.job_id
            seconds = select(JobRow.media_seconds).where(job).scalar_subquery()
            pipeline = select(JobRow.pipeline).where(job).scalar_subquery()
            query = select(
                OutboxRow.__table__, seconds.label("media_seconds"), pipeline.label("pipeline")
            ).where(OutboxRow.sent_at.is_(None))
            if ids is not None:
                query = query.where(OutboxRow.id.in_(list(ids)))
            if job_id is not None:
                query = query.where(OutboxRow.job_id == job_id)
            due = tx.now - older_than
            query = query.where(OutboxRow.available_at <= due).order_by(OutboxRow.id).limit(limit)
            if tx.postgres:
                query = query.with_for_update(skip_locked=True)
            rows = tx.conn.execute(query).all()
            batch = OutboxBatch(
                messages=[
                    OutboxMessage(
                        id=r.id,
                        job_id=r.job_id,
                        stage=r.stage,
                        queue=r.queue,
                        fence=r.fence,
                        available_at=r.available_at,
                        media_seconds=r.media_seconds,
                        pipeline=r.pipeline or "",
                    )
                    for r in rows
                ]
            )
            yield batch
            if batch.sent:
                tx.conn.execute(
                    update(OutboxRow).where(OutboxRow.id.in_(batch.sent)).values(sent_at=self._db.clock())
                )
            if batch.failed:
                tx.conn.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id.in_(batch.failed))
                    .values(publish_attempts=OutboxRow.publish_attempts + 1)
                )

    def mark_sent(self, ids: Sequence[int]) -> None:
        """Record that these messages, published straight from the transaction that wrote them
        (`Tx.outgoing`), reached the broker: one statement, in autocommit on PostgreSQL."""
        if ids:
            self._db.write_one(
                update(OutboxRow)
                .where(OutboxRow.id.in_(list(ids)), OutboxRow.sent_at.is_(None))
                .values(sent_at=self._db.clock())
            )

    def unsent_ids(self, job_id: uuid.UUID) -> list[int]:
        with self._db.read() as conn:
            return list(
                conn.execute(
                    select(OutboxRow.id).where(OutboxRow.job_id == job_id, OutboxRow.sent_at.is_(None))
                ).scalars()
            )

    def pending_outbox_count(self) -> int:
        """Messages written but not yet published (due or not)."""
        with self._db.read() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(OutboxRow).where(OutboxRow.sent_at.is_(None))
                ).scalar_one()
            )


__all__ = ["Outbox", "OutboxBatch", "OutboxMessage", "Send", "write_messages"]
