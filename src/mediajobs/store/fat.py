"""Fat statements on PostgreSQL: a claim in one statement, a completion's checkpoint in one.

**The claim** (`claim_at_once`): the common case of `Stages.claim_stage`, in one round trip.

The common case is a queued stage, due, of an open job nobody asked to cancel: the claim locks the
job row, moves the stage to running under the next fence and a lease, opens its attempt record,
moves the job row on (running, its current stage, its event_seq) and logs the "attempt N started"
event. One statement does all of it (data-modifying CTEs), returning the job row (as it was, with
its owner's tier), the ids of the attempt and the event, and every stage row of the job (the taken
one as it now is), sent through psycopg's own cursor (`Tx.fetch_raw`).

Every other case (no such job, a refusal, a cancel to carry out, an expired lease to take over)
writes nothing here: the statement's writes all hang on the stage update, whose WHERE is the
common case's. The caller then takes the general path (the SQLite one), in the same transaction.

Locking order as everywhere else: the job row first. The stage update's condition on the job is an
uncorrelated subquery of the locked job (an InitPlan: evaluated, so the lock taken, before any stage
row is touched). The job row is read under FOR UPDATE, so it is the latest committed version even
after a wait; the stage row's fence and status are re-checked on its latest version by the UPDATE.
The other stage rows come from the statement's snapshot, taken before any wait for the job's lock:
they are read only for the claim's inputs (the outputs of the stages it needs, committed no later
than the commit that queued it, which the snapshot saw, or the UPDATE would not have matched) and
for the job's progress figure, which a concurrent commit may leave a moment behind (as a commit
just after the read does on the general path).

**The checkpoint** (`checkpoint_at_once`): `Stages.complete_and_follow` locks the job row first
(its own statement: the stage rows it then reads decide what is made ready next, so they must be
read after the lock, never from a snapshot older than it), then one statement writes the fenced
checkpoint, closes the attempt record and reads every stage row back. A stale lease holder's
statement changes nothing (the attempt close hangs on the fenced update) and reads nothing back:
the caller raises `LeaseLost`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from psycopg.types.json import Jsonb

from mediajobs.domain import TERMINAL_JOB_STATUSES, AttemptOutcome, JobStatus, JsonDict, StageRun, StageStatus
from mediajobs.domain.events import EventType, ProgressEvent
from mediajobs.domain.transitions import CLAIM_EARLY_GRACE
from mediajobs.errors import LeaseLost

from .claims import FENCED_UPDATE, Claim, fence_params
from .events import trim_log
from .jobs import load_runs
from .mapping import stage_from_row
from .tables import JobRow, StageRunRow
from .tx import Tx
from .writes import close_attempts

_JOB_COLUMNS = tuple(c.name for c in JobRow.__table__.columns)
_RUN_COLUMNS = tuple(c.name for c in StageRunRow.__table__.columns)
_TERMINAL = ", ".join(f"'{s.value}'" for s in sorted(TERMINAL_JOB_STATUSES))
_RUNNING, _QUEUED = StageStatus.RUNNING.value, StageStatus.QUEUED.value
_runs = ", ".join(_RUN_COLUMNS)

CLAIM_SQL = f"""
WITH job AS (
    SELECT {", ".join(f"j.{c}" for c in _JOB_COLUMNS)}, u.tier
    FROM jobs j JOIN users u ON u.id = j.owner_id
    WHERE j.id = %(job)s::uuid
    FOR UPDATE OF j
), taken AS (
    UPDATE stage_runs SET
        status = '{_RUNNING}', fence = fence + 1, attempts = attempts + 1,
        lease_owner = %(worker)s::text, lease_expires_at = %(expires)s::timestamptz,
        started_at = COALESCE(started_at, %(now)s::timestamptz), reserved_by = NULL, reserved_at = NULL,
        updated_at = %(now)s::timestamptz
    WHERE job_id = %(job)s::uuid AND name = %(stage)s::text AND status = '{_QUEUED}'
        AND (available_at IS NULL OR available_at <= %(due)s::timestamptz)
        AND (SELECT status NOT IN ({_TERMINAL}) AND cancel_requested_at IS NULL FROM job)
    RETURNING {_runs}
), attempt AS (
    INSERT INTO attempts (job_id, stage, number, worker, fence, started_at)
    SELECT job_id, name, attempts, %(worker)s::text, fence, %(now)s::timestamptz FROM taken
    RETURNING id
), moved AS (
    UPDATE jobs SET
        status = '{JobStatus.RUNNING.value}', current_stage = %(stage)s::text,
        started_at = COALESCE(started_at, %(now)s::timestamptz), updated_at = %(now)s::timestamptz,
        event_seq = event_seq + 1
    WHERE id = %(job)s::uuid AND EXISTS (SELECT 1 FROM taken)
    RETURNING event_seq
), logged AS (
    INSERT INTO job_events
        (job_id, owner_id, seq, type, status, stage, stage_status, stage_percent, job_percent, file,
         message, at)
    SELECT job.id, job.owner_id, moved.event_seq, '{EventType.STATE.value}', '{JobStatus.RUNNING.value}',
        %(stage)s::text, '{_RUNNING}', 0.0, job.progress, job.source_name,
        'attempt ' || taken.attempts || ' started on ' || %(worker)s::text, %(now)s::timestamptz
    FROM job, taken, moved
    RETURNING id, seq
)
SELECT job.*, (SELECT id FROM attempt), (SELECT id FROM logged), (SELECT seq FROM logged), r.*
FROM job, LATERAL (
    SELECT {_runs} FROM taken
    UNION ALL
    SELECT {_runs} FROM stage_runs WHERE job_id = %(job)s::uuid AND name <> %(stage)s::text
        AND EXISTS (SELECT 1 FROM taken)
) r
ORDER BY r.position
"""


CHECKPOINT_SQL = f"""
WITH done AS (
    UPDATE stage_runs SET
        status = '{StageStatus.SUCCEEDED.value}', output = %(output)s, progress = 100.0,
        finished_at = %(now)s::timestamptz, lease_owner = NULL, lease_expires_at = NULL,
        error_code = NULL, error_message = NULL, error_retryable = NULL, updated_at = %(now)s::timestamptz
    WHERE job_id = %(job)s::uuid AND name = %(stage)s::text AND fence = %(fence)s::bigint
        AND status = '{_RUNNING}'
    RETURNING {_runs}
), closed AS (
    UPDATE attempts SET
        finished_at = %(now)s::timestamptz, outcome = '{AttemptOutcome.SUCCEEDED.value}',
        error_code = NULL, error_message = NULL
    WHERE job_id = %(job)s::uuid AND id = %(attempt)s::bigint AND finished_at IS NULL
        AND EXISTS (SELECT 1 FROM done)
)
SELECT {_runs} FROM done
UNION ALL
SELECT {_runs} FROM stage_runs
WHERE job_id = %(job)s::uuid AND name <> %(stage)s::text AND EXISTS (SELECT 1 FROM done)
ORDER BY position
"""


def checkpoint_at_once(
    tx: Tx, job_id: uuid.UUID, stage: str, *, fence: int, attempt_id: int, output: JsonDict
) -> tuple[StageRun, ...] | None:
    """The fenced checkpoint of `stage` (succeeded, with its output) and its attempt closed, in one
    statement, on a job row the caller has locked; every stage run as it now is, in graph order.
    None when the fence no longer holds (nothing was written)."""
    rows = tx.fetch_raw(
        CHECKPOINT_SQL,
        {
            "job": job_id,
            "stage": stage,
            "fence": fence,
            "attempt": attempt_id,
            "output": Jsonb(output),
            "now": tx.now,
        },
    )
    if not rows:
        return None
    return tuple(stage_from_row(_row(_RUN_COLUMNS, r)) for r in rows)


def checkpoint(tx: Tx, claim: Claim, output: JsonDict, *, one_statement: bool = True) -> tuple[StageRun, ...]:
    """The fenced checkpoint of a claim's stage and its attempt closed, on the locked job row; every
    stage run as it now is. LeaseLost (nothing written) when the fence no longer holds. PostgreSQL:
    one statement (`one_statement`); SQLite: three."""
    job_id, stage = claim.job.id, claim.stage.name
    if tx.postgres and one_statement:
        runs = checkpoint_at_once(
            tx, job_id, stage, fence=claim.fence, attempt_id=claim.attempt_id, output=output
        )
        if runs is None:
            raise LeaseLost(f"stage {stage} of job {job_id} is no longer ours")
        return runs
    done = tx.conn.execute(
        FENCED_UPDATE,
        {
            **fence_params(claim),
            "status": StageStatus.SUCCEEDED,
            "output": output,
            "progress": 100.0,
            "finished_at": tx.now,
            "lease_owner": None,
            "lease_expires_at": None,
            "error_code": None,
            "error_message": None,
            "error_retryable": None,
            "updated_at": tx.now,
        },
    )
    if done.rowcount != 1:
        raise LeaseLost(f"stage {stage} of job {job_id} is no longer ours")
    close_attempts(tx, job_id, attempt_id=claim.attempt_id, outcome=AttemptOutcome.SUCCEEDED)
    return load_runs(tx.conn, job_id)


@dataclass(frozen=True, kw_only=True, slots=True)
class Claimed:
    """What the one-statement claim wrote and read."""

    row: Any  # the job row as it was before the claim, with its owner's `tier`
    runs: tuple[StageRun, ...]  # every stage run, in graph order; the taken one as it now is
    run: StageRun  # the taken one
    attempt_id: int


def claim_at_once(
    tx: Tx, job_id: uuid.UUID, stage: str, *, worker: str, lease_seconds: float
) -> Claimed | None:
    """Claim `stage` in one statement when it is the common case; None (nothing written) otherwise."""
    rows = tx.fetch_raw(
        CLAIM_SQL,
        {
            "job": job_id,
            "stage": stage,
            "worker": worker,
            "now": tx.now,
            "expires": tx.now + timedelta(seconds=lease_seconds),
            "due": tx.now + CLAIM_EARLY_GRACE,
        },
    )
    if not rows:
        return None  # no such job, or not the common case (no stage row came back)
    n = len(_JOB_COLUMNS) + 1
    first = rows[0]
    attempt_id, event_id, seq = first[n : n + 3]
    row = _row((*_JOB_COLUMNS, "tier"), first[:n])
    runs = tuple(stage_from_row(_row(_RUN_COLUMNS, r[n + 3 :])) for r in rows)
    run = next(r for r in runs if r.name == stage)
    tx.events.append(
        ProgressEvent(
            id=event_id,
            job_id=job_id,
            owner_id=row.owner_id,
            seq=seq,
            type=EventType.STATE,
            status=JobStatus.RUNNING.value,
            stage=stage,
            stage_status=_RUNNING,
            stage_percent=0.0,
            job_percent=float(row.progress),
            file=row.source_name,
            message=f"attempt {run.attempts} started on {worker}",
            at=tx.now,
        )
    )
    trim_log(tx, job_id, before=seq - 1, last=seq)
    return Claimed(row=row, runs=runs, run=run, attempt_id=attempt_id)


def _row(columns: tuple[str, ...], values: tuple[Any, ...]) -> SimpleNamespace:
    """A row by column name, as the store's mapping reads them."""
    return SimpleNamespace(**{c: _utc(v) for c, v in zip(columns, values, strict=True)})


def _utc(value: Any) -> Any:
    """psycopg gives timestamptz in the session's zone; the store's rows carry UTC (UTCDateTime)."""
    return value.astimezone(UTC) if isinstance(value, datetime) else value


__all__ = ["CHECKPOINT_SQL", "CLAIM_SQL", "Claimed", "checkpoint", "checkpoint_at_once", "claim_at_once"]
