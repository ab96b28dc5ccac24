"""Writes that several parts of the store make: the job row with its events, the endings of a job
(cancelled, failed), attempt records, new stage rows. Each exists once, here."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, update

from mediajobs.domain import (
    UNFINISHED_STAGE_STATUSES,
    WAITING_STAGE_STATUSES,
    AttemptOutcome,
    ErrorInfo,
    JobStatus,
    StageRun,
    StageStatus,
)
from mediajobs.domain.deliveries import JOB_FINISHED
from mediajobs.hooks import JobFinished

from .batch_end import close_if_done
from .deliveries import write_deliveries
from .events import JobHead, Note, log_events, move_and_log
from .metering import settle
from .tables import AttemptRow, JobRow, OutboxRow, StageRunRow
from .tx import Tx

log = logging.getLogger(__name__)

CANCEL_ERROR = ErrorInfo(code="cancelled", message="cancelled by request")
"""The error a cancelled job carries. A cancel ends every unfinished stage (a running one is stopped
by its runner's heartbeat); a failure skips the stages still waiting."""


# Hot statements built once (see store/tx.py); their SET clauses come from the parameters.
_UPDATE_JOB = update(JobRow).where(JobRow.id == bindparam("u_job"))
_CLOSE_ATTEMPT = update(AttemptRow).where(
    AttemptRow.job_id == bindparam("a_job"),
    AttemptRow.finished_at.is_(None),
    AttemptRow.id == bindparam("a_id"),
)


def update_job(tx: Tx, row: Row[Any], notes: Sequence[Note] = (), **values: Any) -> JobHead:
    """Update the (locked) job row, move its event_seq past `notes`, and log them."""
    values.setdefault("updated_at", tx.now)
    head = JobHead(
        job_id=row.id,
        owner_id=row.owner_id,
        status=str(values.get("status", row.status)),
        progress=float(values.get("progress", row.progress)),
        file=row.source_name,
        seq=row.event_seq,
    )
    values["event_seq"] = row.event_seq + len(notes)
    if tx.postgres and notes:  # one statement (store/fat.py's way)
        move_and_log(tx, values, head, notes)
        return head
    # the SET clause is the parameters' columns (compiled once per set of columns, then cached)
    tx.conn.execute(_UPDATE_JOB, {"u_job": row.id, **values})
    log_events(tx, head, notes)
    return head


def _before(row: Row[Any], notes: Sequence[Note]) -> list[Note]:
    """Notes logged just before a job ends carry the status the job had until then."""
    return [n if n.status else replace(n, status=row.status) for n in notes]


def cancel_job(tx: Tx, row: Row[Any], notes: Sequence[Note] = (), **values: Any) -> None:
    """End an open job as cancelled: its unfinished stages too, and its unsent messages are dropped."""
    if JobStatus(row.status).terminal:
        return
    tx.conn.execute(
        update(StageRunRow)
        .where(StageRunRow.job_id == row.id, StageRunRow.status.in_(sorted(UNFINISHED_STAGE_STATUSES)))
        .values(
            status=StageStatus.CANCELLED,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=tx.now,
            updated_at=tx.now,
        )
    )
    _drop_unsent(tx, row.id)
    error = CANCEL_ERROR
    update_job(
        tx,
        row,
        [*_before(row, notes), Note(message=CANCEL_ERROR.message, status=JobStatus.CANCELLED)],
        status=JobStatus.CANCELLED,
        finished_at=tx.now,
        error_code=error.code,
        error_message=error.message,
        error_retryable=error.retryable,
        **values,
    )
    _finished(tx, row, JobStatus.CANCELLED, error)


def fail_job(tx: Tx, row: Row[Any], error: ErrorInfo, notes: Sequence[Note] = (), **values: Any) -> None:
    """End an open job as failed; stages that had not started will never run."""
    if JobStatus(row.status).terminal:
        return
    tx.conn.execute(
        update(StageRunRow)
        .where(StageRunRow.job_id == row.id, StageRunRow.status.in_(sorted(WAITING_STAGE_STATUSES)))
        .values(status=StageStatus.SKIPPED, updated_at=tx.now)
    )
    _drop_unsent(tx, row.id)
    update_job(
        tx,
        row,
        [
            *_before(row, notes),
            Note(message=f"job failed: {error.code}: {error.message}", status=JobStatus.FAILED),
        ],
        status=JobStatus.FAILED,
        error_code=error.code,
        error_message=error.message,
        error_retryable=error.retryable,
        finished_at=tx.now,
        **values,
    )
    _finished(tx, row, JobStatus.FAILED, error)


def succeed_job(tx: Tx, row: Row[Any], notes: Sequence[Note] = ()) -> None:
    update_job(
        tx,
        row,
        [*_before(row, notes), Note(message="job succeeded", status=JobStatus.SUCCEEDED, job_percent=100.0)],
        status=JobStatus.SUCCEEDED,
        progress=100.0,
        current_stage=None,
        finished_at=tx.now,
    )
    _finished(tx, row, JobStatus.SUCCEEDED, None)


def _finished(tx: Tx, row: Row[Any], status: JobStatus, error: ErrorInfo | None) -> None:
    """The job's end, for the hooks after the commit, and the durable hooks' deliveries in it; the
    media it reserved is charged (settled)."""
    settle(tx, row.id, known=row)
    ended = JobFinished(
        job_id=row.id,
        owner_id=row.owner_id,
        pipeline=row.pipeline,
        status=status,
        error=error,
        lane=row.lane,
        seconds=max(0.0, (tx.now - row.created_at).total_seconds()),
        media_seconds=row.media_seconds,
        callback_url=row.callback_url,
    )
    tx.finished.append(ended)
    if row.batch_id is not None:  # the batch ends with its last item
        close_if_done(tx, row.batch_id)
    for hook in tx.durable:
        try:
            owed = hook.deliveries(ended)
        except Exception:  # a hook's bug must not keep the job from ending: say so loudly
            log.error(
                "durable hook %r failed to say what to deliver for job %s", hook.name, row.id, exc_info=True
            )
            continue
        write_deliveries(
            tx, hook=hook.name, owner_id=row.owner_id, job_id=row.id, event=JOB_FINISHED, owed=owed
        )


def _drop_unsent(tx: Tx, job_id: uuid.UUID) -> None:
    # Messages not yet published never need to be: their stages can no longer be claimed.
    tx.conn.execute(delete(OutboxRow).where(OutboxRow.job_id == job_id, OutboxRow.sent_at.is_(None)))


# -- in memory: the same endings applied to loaded runs, so callers need not read them back --------


def runs_cancelled(runs: Iterable[StageRun], now: Any) -> tuple[StageRun, ...]:
    return tuple(
        replace(r, status=StageStatus.CANCELLED, lease_owner=None, lease_expires_at=None, finished_at=now)
        if r.status in UNFINISHED_STAGE_STATUSES
        else r
        for r in runs
    )


def runs_after_failure(runs: Iterable[StageRun]) -> tuple[StageRun, ...]:
    return tuple(
        replace(r, status=StageStatus.SKIPPED) if r.status in WAITING_STAGE_STATUSES else r for r in runs
    )


# -- attempts ------------------------------------------------------------------------------------------


def close_attempts(
    tx: Tx,
    job_id: uuid.UUID,
    *,
    outcome: AttemptOutcome,
    attempt_id: int | None = None,
    stage: str | None = None,
    error: ErrorInfo | None = None,
) -> None:
    """End open attempt records: one (`attempt_id`), a stage's, or all of the job's."""
    if attempt_id is not None and stage is None:  # a stage's own end: the hot case, built once
        tx.conn.execute(
            _CLOSE_ATTEMPT,
            {
                "a_job": job_id,
                "a_id": attempt_id,
                "finished_at": tx.now,
                "outcome": outcome,
                "error_code": error.code if error else None,
                "error_message": error.message if error else None,
            },
        )
        return
    query = update(AttemptRow).where(AttemptRow.job_id == job_id, AttemptRow.finished_at.is_(None))
    if attempt_id is not None:
        query = query.where(AttemptRow.id == attempt_id)
    if stage is not None:
        query = query.where(AttemptRow.stage == stage)
    tx.conn.execute(
        query.values(
            finished_at=tx.now,
            outcome=outcome,
            error_code=error.code if error else None,
            error_message=error.message if error else None,
        )
    )


# -- stage rows ----------------------------------------------------------------------------------------


def insert_runs(tx: Tx, runs: Sequence[StageRun], *, first_position: int) -> None:
    """New stage rows (at submit, or the children of a fan-out)."""
    if not runs:
        return
    tx.conn.execute(
        insert(StageRunRow),
        [
            dict(
                job_id=run.job_id,
                name=run.name,
                kind=run.kind,
                run=run.run,
                parent=run.parent,
                child_index=run.index,
                params=run.params,
                routed_lane=run.routed_lane,
                position=first_position + n,
                status=run.status,
                attempts=0,
                budget_start=0,
                progress=0.0,
                fence=0,
                available_at=run.available_at,
                updated_at=tx.now,
            )
            for n, run in enumerate(runs)
        ],
    )


def set_status(tx: Tx, job_id: uuid.UUID, names: Sequence[str], status: StageStatus, **values: Any) -> None:
    """Move several stages of one job to `status` in one statement."""
    if not names:
        return
    tx.conn.execute(
        update(StageRunRow)
        .where(StageRunRow.job_id == job_id, StageRunRow.name.in_(list(names)))
        .values(status=status, updated_at=tx.now, **values)
    )


__all__ = [
    "CANCEL_ERROR",
    "cancel_job",
    "close_attempts",
    "fail_job",
    "insert_runs",
    "runs_after_failure",
    "runs_cancelled",
    "set_status",
    "succeed_job",
    "update_job",
]
