"""A batch ends in the transaction that ends its last item (called from writes._finished), with what the
durable hooks owe about it (a webhook to its `callback_url`)."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import Connection, bindparam, func, select, update

from mediajobs.domain import OPEN_JOB_STATUSES
from mediajobs.domain.batches import BatchStatus, batch_status
from mediajobs.domain.deliveries import BATCH_FINISHED
from mediajobs.hooks import BatchFinished

from .deliveries import write_deliveries
from .load import written_in
from .tables import BatchRow, JobRow
from .tx import Tx

log = logging.getLogger(__name__)


# Items are admitted and end roughly in index order: the last index still open is found at once walking
# the batch's index backwards, where counting every item (the end's question) reads all its rows.
_still_open = (
    select(JobRow.id)
    .where(JobRow.batch_id == bindparam("batch_id"), written_in(JobRow.status, sorted(OPEN_JOB_STATUSES)))
    .order_by(JobRow.batch_index.desc())
    .limit(1)
)


def close_if_done(tx: Tx, batch_id: uuid.UUID) -> BatchStatus | None:
    """In the transaction that ended one of its items: when none is left open, the batch ends, with the
    status its items' outcomes give it. The batch row is locked first, so two items ending at once
    cannot both see the other still running."""
    lock = select(
        BatchRow.owner_id,
        BatchRow.items,
        BatchRow.callback_url,
        BatchRow.cancel_requested_at,
        BatchRow.finished_at,
    ).where(BatchRow.id == batch_id)
    row = tx.conn.execute(lock.with_for_update() if tx.postgres else lock).one_or_none()
    if row is None or row.finished_at is not None:
        return None
    if tx.conn.execute(_still_open, {"batch_id": batch_id}).first() is not None:
        return None  # the common case, one index row away: the whole count only at the end
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
    ended = BatchFinished(
        batch_id=batch_id,
        owner_id=row.owner_id,
        status=status,
        items=row.items,
        callback_url=row.callback_url,
    )
    for hook in tx.durable:
        try:
            owed = hook.batch_deliveries(ended)
        except Exception:  # a hook's bug must not keep the batch from ending
            log.error("durable hook %r failed on the end of batch %s", hook.name, batch_id, exc_info=True)
            continue
        write_deliveries(
            tx, hook=hook.name, owner_id=row.owner_id, batch_id=batch_id, event=BATCH_FINISHED, owed=owed
        )
    return status


def batch_counts(conn: Connection, batch_id: uuid.UUID) -> dict[str, int]:
    rows = conn.execute(
        select(JobRow.status, func.count()).where(JobRow.batch_id == batch_id).group_by(JobRow.status)
    ).all()
    return {str(status): int(n) for status, n in rows}


__all__ = ["batch_counts", "close_if_done"]
