"""Hook deliveries (webhooks): written in the transaction that ends a job or a batch (`write_deliveries`),
published to the `hooks` queue after the commit (their ids go to `Tx.deliveries`) or by the relay
(`unsent`), marked reserved by the worker whose main process took the message (`mark_reserved`, so a
dead worker's are sent again at once: `release_dead`), leased by the sender that tries one (`take`,
which opens the attempt's record) and settled with the attempt's answer (`settle`, fenced by the
attempt number, so a sender that outlived its lease records nothing over its successor's).

Reads for the API and the dashboard: `get`, `of_job`, `of_batch`, `recent`, `counts`; each delivery
with its attempts (`Delivery.history`) when asked.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.sql import ColumnElement

from mediajobs.domain.deliveries import (
    Delivery,
    DeliveryAttempt,
    DeliveryOutcome,
    DeliveryStatus,
)
from mediajobs.errors import Conflict, NotFound
from mediajobs.hooks.durable import Owed
from mediajobs.signing import new_message_id

from .endpoints import disable_endpoint
from .tables import HookAttemptRow, HookDeliveryRow, WorkerRow
from .tx import Database, Tx

LOST_SENDER = "the sender stopped before it recorded an answer (it died, or outlived its hold)"
DEAD_WORKER = "the worker sending it died"


@dataclass(frozen=True, kw_only=True, slots=True)
class Settlement:
    """What one attempt came to, as the sender decided (queue/delivery.py)."""

    outcome: DeliveryOutcome  # the attempt's
    status: DeliveryStatus  # the delivery's, after it
    retry_in: float | None = None  # pending again: due this many seconds from now
    status_code: int | None = None
    latency_seconds: float | None = None
    error: str | None = None
    body: bytes | None = None  # the message, kept for the attempts that follow (the first one's)


def write_deliveries(
    tx: Tx,
    *,
    hook: str,
    owner_id: str,
    event: str,
    owed: Sequence[Owed],
    job_id: uuid.UUID | None = None,
    batch_id: uuid.UUID | None = None,
) -> None:
    """Rows for what a hook `owed`, due now; their ids are kept on the transaction for the send after
    the commit."""
    if not owed:
        return
    rows = [
        dict(
            hook=hook,
            owner_id=owner_id,
            job_id=job_id,
            batch_id=batch_id,
            event=event,
            destination=item.destination,
            message_id=new_message_id(),
            payload=dict(item.payload),
            status=DeliveryStatus.PENDING,
            attempts=0,
            available_at=tx.now,
            created_at=tx.now,
        )
        for item in owed
    ]
    written = tx.conn.execute(insert(HookDeliveryRow).returning(HookDeliveryRow.id), rows).scalars().all()
    tx.deliveries.extend(written)


class Deliveries:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- the outbox's side ---------------------------------------------------------------------------

    def mark_sent(self, ids: Sequence[int]) -> None:
        """Their messages are on the broker."""
        if ids:
            self._db.write_one(
                update(HookDeliveryRow)
                .where(HookDeliveryRow.id.in_(list(ids)))
                .values(sent_at=self._db.clock())
            )

    def mark_reserved(self, worker_id: str, delivery_id: int) -> None:
        """A worker's main process took this delivery's message from the broker (one statement)."""
        self._db.write_one(
            update(HookDeliveryRow)
            .where(HookDeliveryRow.id == delivery_id, HookDeliveryRow.status == DeliveryStatus.PENDING)
            .values(reserved_by=worker_id, reserved_at=self._db.clock())
        )

    def unsent(self, *, older_than: timedelta, stale_after: timedelta, limit: int = 100) -> list[int]:
        """Pending deliveries to publish (again): due for `older_than` and never published, or
        published `stale_after` ago and neither delivered nor held (the message was lost), or held by
        a sender whose lease ran out (it died, or is stuck)."""
        now = self._db.clock()
        with self._db.read() as conn:
            return list(
                conn.execute(
                    select(HookDeliveryRow.id)
                    .where(
                        HookDeliveryRow.status == DeliveryStatus.PENDING,
                        HookDeliveryRow.available_at <= now - older_than,
                        or_(
                            and_(HookDeliveryRow.sent_at.is_(None), HookDeliveryRow.locked_until.is_(None)),
                            HookDeliveryRow.locked_until < now,
                            and_(
                                HookDeliveryRow.locked_until.is_(None),
                                HookDeliveryRow.sent_at < now - stale_after,
                            ),
                        ),
                    )
                    .order_by(HookDeliveryRow.id)
                    .limit(limit)
                ).scalars()
            )

    def release_dead(self, *, silent_for: timedelta, limit: int = 500) -> int:
        """Pending deliveries whose message a worker silent for `silent_for` had taken (and maybe was
        sending): their in-flight attempt is closed as lost, and they are left for the relay to publish
        now, not after the sender's hold or the broker's visibility timeout. How many."""
        now = self._db.clock()
        cutoff = now - silent_for
        alive = (
            select(WorkerRow.id)
            .where(WorkerRow.id == HookDeliveryRow.reserved_by, WorkerRow.last_seen >= cutoff)
            .exists()
        )
        with self._db.tx() as tx:
            orphans = list(
                tx.conn.execute(
                    select(HookDeliveryRow.id)
                    .where(
                        HookDeliveryRow.status == DeliveryStatus.PENDING,
                        HookDeliveryRow.reserved_by.is_not(None),
                        HookDeliveryRow.reserved_at < cutoff,
                        ~alive,
                    )
                    .limit(limit)
                ).scalars()
            )
            if not orphans:
                return 0
            tx.conn.execute(
                update(HookAttemptRow)
                .where(HookAttemptRow.delivery_id.in_(orphans), HookAttemptRow.finished_at.is_(None))
                .values(finished_at=now, outcome=DeliveryOutcome.LOST, error=DEAD_WORKER)
            )
            tx.conn.execute(
                update(HookDeliveryRow)
                .where(HookDeliveryRow.id.in_(orphans), HookDeliveryRow.status == DeliveryStatus.PENDING)
                .values(reserved_by=None, reserved_at=None, locked_until=None, sent_at=None)
            )
        return len(orphans)

    # -- the sender's side ---------------------------------------------------------------------------

    def take(self, delivery_id: int, *, hold: timedelta, worker: str | None = None) -> Delivery | None:
        """Lease a due, pending delivery for `hold`, count the attempt and open its record (an attempt
        left open by a sender that died is closed as lost); None when it is not due, not pending, or
        another sender holds it."""
        now = self._db.clock()
        with self._db.tx() as tx:
            taken = tx.conn.execute(
                update(HookDeliveryRow)
                .where(
                    HookDeliveryRow.id == delivery_id,
                    HookDeliveryRow.status == DeliveryStatus.PENDING,
                    HookDeliveryRow.available_at <= now + timedelta(seconds=1),
                    or_(HookDeliveryRow.locked_until.is_(None), HookDeliveryRow.locked_until < now),
                )
                .values(locked_until=now + hold, attempts=HookDeliveryRow.attempts + 1)
                .returning(*HookDeliveryRow.__table__.columns)
            ).one_or_none()
            if taken is None:
                return None
            tx.conn.execute(
                update(HookAttemptRow)
                .where(HookAttemptRow.delivery_id == delivery_id, HookAttemptRow.finished_at.is_(None))
                .values(finished_at=now, outcome=DeliveryOutcome.LOST, error=LOST_SENDER)
            )
            tx.conn.execute(
                insert(HookAttemptRow).values(
                    delivery_id=delivery_id, number=taken.attempts, worker=worker, started_at=now
                )
            )
        return delivery_from_row(taken)

    def settle(self, delivery: Delivery, settled: Settlement) -> bool:
        """Record the answer of the attempt `delivery` was taken for, and what follows: delivered,
        pending again (due in `retry_in`), or failed (with GONE, its endpoint disabled for its owner).
        False, recording nothing, when the delivery was taken again meanwhile (this sender outlived
        its hold, or its worker was taken for dead)."""
        now = self._db.clock()
        values: dict[str, Any] = dict(
            status=settled.status,
            locked_until=None,
            reserved_by=None,
            reserved_at=None,
            last_error=None if settled.error is None else settled.error[:2000],
        )
        if settled.body is not None and delivery.body is None:
            values["body"] = settled.body.decode("utf-8")
        if settled.status is DeliveryStatus.DELIVERED:
            values["delivered_at"] = now
        elif settled.status is DeliveryStatus.PENDING:
            values["available_at"] = now + timedelta(seconds=settled.retry_in or 0.0)
            values["sent_at"] = None  # the relay publishes it when it is due
        with self._db.tx() as tx:
            fenced = tx.conn.execute(
                update(HookDeliveryRow)
                .where(
                    HookDeliveryRow.id == delivery.id,
                    HookDeliveryRow.attempts == delivery.attempts,
                    HookDeliveryRow.status == DeliveryStatus.PENDING,
                )
                .values(**values)
            )
            if fenced.rowcount == 0:
                return False
            tx.conn.execute(
                update(HookAttemptRow)
                .where(
                    HookAttemptRow.delivery_id == delivery.id,
                    HookAttemptRow.number == delivery.attempts,
                    HookAttemptRow.finished_at.is_(None),
                )
                .values(
                    finished_at=now,
                    outcome=settled.outcome,
                    status_code=settled.status_code,
                    latency_seconds=settled.latency_seconds,
                    error=None if settled.error is None else settled.error[:2000],
                )
            )
            if settled.outcome is DeliveryOutcome.GONE:
                disable_endpoint(
                    tx,
                    owner_id=delivery.owner_id,
                    hook=delivery.hook,
                    destination=delivery.destination,
                    reason=settled.error or "the receiver answered 410 Gone",
                    delivery_id=delivery.id,
                )
        return True

    # -- manual redelivery -----------------------------------------------------------------------------

    def redeliver(
        self, delivery_id: int, *, job_id: uuid.UUID | None = None, batch_id: uuid.UUID | None = None
    ) -> Delivery:
        """Send it again now: a pending delivery waiting for its next attempt becomes due now; a
        delivered or failed one is copied (the same message: its `webhook-id` and body) into a new
        delivery, due now. Either goes on `Tx.deliveries` for the send after the commit. NotFound
        unless it is a delivery of `job_id` (or `batch_id`); Conflict while a sender holds it."""
        with self._db.tx() as tx:
            row = tx.conn.execute(
                _of_subject(select(HookDeliveryRow.__table__), job_id, batch_id).where(
                    HookDeliveryRow.id == delivery_id
                )
            ).one_or_none()
            if row is None:
                raise NotFound(f"no delivery {delivery_id} of this {'job' if job_id else 'batch'}")
            if row.status == DeliveryStatus.PENDING:
                if row.locked_until is not None and row.locked_until > tx.now:
                    raise Conflict(
                        f"delivery {delivery_id} is being sent right now", code="delivery_in_flight"
                    )
                tx.conn.execute(
                    update(HookDeliveryRow)
                    .where(HookDeliveryRow.id == delivery_id)
                    .values(available_at=tx.now, sent_at=None)
                )
                again = delivery_id
            else:
                again = tx.conn.execute(
                    insert(HookDeliveryRow)
                    .values(
                        hook=row.hook,
                        owner_id=row.owner_id,
                        job_id=row.job_id,
                        batch_id=row.batch_id,
                        event=row.event,
                        destination=row.destination,
                        message_id=row.message_id,
                        payload=dict(row.payload),
                        body=row.body,
                        status=DeliveryStatus.PENDING,
                        attempts=0,
                        available_at=tx.now,
                        redelivery_of=row.id,
                        created_at=tx.now,
                    )
                    .returning(HookDeliveryRow.id)
                ).scalar_one()
            tx.deliveries.append(again)
        return self.get(again)

    # -- reads ---------------------------------------------------------------------------------------

    def get(self, delivery_id: int) -> Delivery:
        """One delivery with its attempts (NotFound)."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(HookDeliveryRow.__table__).where(HookDeliveryRow.id == delivery_id)
            ).all()
            if not rows:
                raise NotFound(f"no delivery {delivery_id}")
            return _with_history(conn, rows)[0]

    def of_job(self, job_id: uuid.UUID) -> list[Delivery]:
        """A job's deliveries, oldest first, each with its attempts."""
        return self._of(_of_subject(select(HookDeliveryRow.__table__), job_id, None))

    def of_batch(self, batch_id: uuid.UUID) -> list[Delivery]:
        """A batch's own deliveries (not its items'), oldest first, each with its attempts."""
        return self._of(_of_subject(select(HookDeliveryRow.__table__), None, batch_id))

    def recent(
        self,
        *,
        owner_id: str | None = None,
        status: DeliveryStatus | None = None,
        before: int | None = None,
        limit: int = 50,
        history: bool = False,
    ) -> list[Delivery]:
        """Deliveries newest first (everybody's with `owner_id=None`), of one status if given, with ids
        below `before` (the next page: the last id of this one)."""
        query = select(HookDeliveryRow.__table__)
        if owner_id is not None:
            query = query.where(HookDeliveryRow.owner_id == owner_id)
        if status is not None:
            query = query.where(HookDeliveryRow.status == status)
        if before is not None:
            query = query.where(HookDeliveryRow.id < before)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(HookDeliveryRow.id.desc()).limit(limit)).all()
            return _with_history(conn, rows) if history else [delivery_from_row(r) for r in rows]

    def counts(self, owner_id: str | None = None) -> dict[str, int]:
        """Deliveries by status (everybody's with `owner_id=None`)."""
        query = select(HookDeliveryRow.status, func.count()).group_by(HookDeliveryRow.status)
        if owner_id is not None:
            query = query.where(HookDeliveryRow.owner_id == owner_id)
        with self._db.read() as conn:
            return {str(status): int(n) for status, n in conn.execute(query).all()}

    def _of(self, query: Any) -> list[Delivery]:
        with self._db.read() as conn:
            return _with_history(conn, conn.execute(query.order_by(HookDeliveryRow.id)).all())


def _of_subject(query: Any, job_id: uuid.UUID | None, batch_id: uuid.UUID | None) -> Any:
    where: ColumnElement[bool] = (
        HookDeliveryRow.job_id == job_id if job_id is not None else HookDeliveryRow.batch_id == batch_id
    )
    return query.where(where)


def _with_history(conn: Connection, rows: Sequence[Any]) -> list[Delivery]:
    if not rows:
        return []
    attempts: dict[int, list[DeliveryAttempt]] = {}
    for a in conn.execute(
        select(HookAttemptRow.__table__)
        .where(HookAttemptRow.delivery_id.in_([r.id for r in rows]))
        .order_by(HookAttemptRow.delivery_id, HookAttemptRow.number, HookAttemptRow.id)
    ):
        attempts.setdefault(a.delivery_id, []).append(
            DeliveryAttempt(
                number=a.number,
                worker=a.worker,
                started_at=a.started_at,
                finished_at=a.finished_at,
                outcome=None if a.outcome is None else DeliveryOutcome(a.outcome),
                status_code=a.status_code,
                latency_seconds=a.latency_seconds,
                error=a.error,
            )
        )
    return [delivery_from_row(r, tuple(attempts.get(r.id, ()))) for r in rows]


def delivery_from_row(row: Any, history: tuple[DeliveryAttempt, ...] = ()) -> Delivery:
    return Delivery(
        id=row.id,
        hook=row.hook,
        event=row.event,
        owner_id=row.owner_id,
        destination=row.destination,
        message_id=row.message_id,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.available_at,
        created_at=row.created_at,
        job_id=row.job_id,
        batch_id=row.batch_id,
        payload=dict(row.payload),
        body=None if row.body is None else row.body.encode("utf-8"),
        delivered_at=row.delivered_at,
        last_error=row.last_error,
        redelivery_of=row.redelivery_of,
        history=history,
    )


__all__ = ["Deliveries", "Settlement", "delivery_from_row", "write_deliveries"]
