"""Hook deliveries: written in the transaction that ends a job (`write`), published to the `hooks`
queue after the commit (their ids go to `Tx.deliveries`) or by the relay (`unsent`), leased by the
sender that delivers one (`take`), and settled with its outcome (`delivered`, `retry_later`,
`give_up`). See hooks/durable.py."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update

from .tables import HookDeliveryRow
from .tx import Database, Tx

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True, kw_only=True, slots=True)
class Delivery:
    id: int
    hook: str
    job_id: uuid.UUID
    event: str
    payload: dict[str, Any]
    status: str
    attempts: int
    available_at: datetime
    delivered_at: datetime | None = None
    last_error: str | None = None


def write_deliveries(
    tx: Tx, *, hook: str, job_id: uuid.UUID, event: str, payloads: Sequence[dict[str, Any]]
) -> None:
    """Rows for `payloads`, due now; their ids are kept on the transaction for the after-commit send."""
    if not payloads:
        return
    rows = [
        dict(
            hook=hook,
            job_id=job_id,
            event=event,
            payload=dict(payload),
            status=PENDING,
            attempts=0,
            available_at=tx.now,
            created_at=tx.now,
        )
        for payload in payloads
    ]
    written = tx.conn.execute(insert(HookDeliveryRow).returning(HookDeliveryRow.id), rows).scalars().all()
    tx.deliveries.extend(written)


class Deliveries:
    def __init__(self, db: Database) -> None:
        self._db = db

    def mark_sent(self, ids: Sequence[int]) -> None:
        """Their messages are on the broker."""
        if ids:
            self._db.write_one(
                update(HookDeliveryRow)
                .where(HookDeliveryRow.id.in_(list(ids)))
                .values(sent_at=self._db.clock())
            )

    def unsent(self, *, older_than: timedelta, stale_after: timedelta, limit: int = 100) -> list[int]:
        """Pending deliveries to publish (again): due for `older_than` and never published, or
        published `stale_after` ago and neither delivered nor held (the message was lost), or held by
        a sender whose lease ran out (it died)."""
        now = self._db.clock()
        with self._db.read() as conn:
            return list(
                conn.execute(
                    select(HookDeliveryRow.id)
                    .where(
                        HookDeliveryRow.status == PENDING,
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

    def take(self, delivery_id: int, *, hold: timedelta) -> Delivery | None:
        """Lease a due, pending delivery for `hold` (its attempt counted); None when it is not due,
        not pending, or another sender holds it."""
        now = self._db.clock()
        with self._db.tx() as tx:
            taken = tx.conn.execute(
                update(HookDeliveryRow)
                .where(
                    HookDeliveryRow.id == delivery_id,
                    HookDeliveryRow.status == PENDING,
                    HookDeliveryRow.available_at <= now + timedelta(seconds=1),
                    or_(HookDeliveryRow.locked_until.is_(None), HookDeliveryRow.locked_until < now),
                )
                .values(locked_until=now + hold, attempts=HookDeliveryRow.attempts + 1)
                .returning(*HookDeliveryRow.__table__.columns)
            ).one_or_none()
        return None if taken is None else _delivery(taken)

    def delivered(self, delivery: Delivery) -> None:
        self._settle(delivery, status=DELIVERED, delivered_at=self._db.clock(), last_error=None)

    def retry_later(self, delivery: Delivery, *, delay: float, error: str) -> None:
        """Due again in `delay` seconds; the relay publishes it then."""
        when = self._db.clock() + timedelta(seconds=delay)
        self._settle(delivery, status=PENDING, available_at=when, sent_at=None, last_error=error[:2000])

    def give_up(self, delivery: Delivery, *, error: str) -> None:
        self._settle(delivery, status=FAILED, last_error=error[:2000])

    def _settle(self, delivery: Delivery, **values: Any) -> None:
        self._db.write_one(
            update(HookDeliveryRow)
            .where(HookDeliveryRow.id == delivery.id)
            .values(locked_until=None, **values)
        )

    def of_job(self, job_id: uuid.UUID) -> list[Delivery]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(HookDeliveryRow.__table__)
                .where(HookDeliveryRow.job_id == job_id)
                .order_by(HookDeliveryRow.id)
            ).all()
        return [_delivery(r) for r in rows]


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        hook=row.hook,
        job_id=row.job_id,
        event=row.event,
        payload=dict(row.payload),
        status=row.status,
        attempts=row.attempts,
        available_at=row.available_at,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
    )


__all__ = ["DELIVERED", "FAILED", "PENDING", "Deliveries", "Delivery", "write_deliveries"]
