"""A batch ends in the transaction that ends its last item (called from writes._finished)."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, func, select, update

from mediajobs.domain.batches import BatchStatus, batch_status

from .tables import BatchRow, JobRow
from .tx import Tx


def close_if_done(tx: Tx, batch_id: uuid.UUID) -> BatchStatus | None:
    """In the transaction that ended one of its items: when none is left open, the batch ends, with the
    status its items' outcomes give it. The batch row is locked first, so two items ending at once
    cannot both see the other still running."""
    lock = select(BatchRow.cancel_requested_at, BatchRow.finished_at).where(BatchRow.id == batch_id)
    row = tx.conn.execute(lock.with_for_update() if tx.postgres else lock).one_or_none()
    if row is None or row.finished_at is not None:
        return None
    status = batch_status(
        batch_counts(tx.conn, batch_id), cancel_requested=row.cancel_requested_at is not None
    )
    if status is BatchStatus.RUNNING:
        return None
    tx.conn.execute(
        update(BatchRow)
        .where(BatchRow.id == batch_id)
        .values(status=status, finished_at=tx.now, updated_at=tx.now)
    )
    return status


def batch_counts(conn: Connection, batch_id: uuid.UUID) -> dict[str, int]:
    rows = conn.execute(
        select(JobRow.status, func.count()).where(JobRow.batch_id == batch_id).group_by(JobRow.status)
    ).all()
    return {str(status): int(n) for status, n in rows}


__all__ = ["batch_counts", "close_if_done"]
