"""Recovery: lease renewal, stages whose runner died, messages nobody ran, and worker heartbeats.

Three ways work can go missing, and what brings it back:
- a runner dies mid-stage: its lease stops being renewed; `reap_expired_leases` re-queues the stage
  (or fails the job when the stage keeps killing its workers);
- a worker dies holding messages it had taken from the broker but not claimed (Redis keeps such a
  message unacknowledged until its visibility timeout, an hour): the worker marked each stage
  reserved when the message arrived, so `reap_dead_workers` sends them again as soon as its
  heartbeats stop;
- a message vanishes from the broker (Redis restarted without it, a worker killed the instant it took
  one, before marking it): the queue holds fewer messages than the stages waiting on it, and
  `Strays.resend_lost` (store/strays.py) sends them again within a lease period or two;
- anything else nobody notices: `redispatch_stale` sends the message of any stage that stayed
  queued, unchanged, for too long (15 minutes by default) again.
Duplicates are harmless everywhere: the claim lets exactly one delivery run a stage.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mediajobs.domain import OPEN_JOB_STATUSES, AttemptOutcome, ErrorInfo, StageStatus
from mediajobs.domain.transitions import LostLeaseAction, after_lost_lease
from mediajobs.errors import LeaseLost

from .admission import Admission
from .claims import FENCED, Claim, fence_params
from .events import Note
from .outbox import Send, write_messages
from .tables import JobRow, OutboxRow, StageRunRow, WorkerRow
from .tx import Database, QueueFor, Tx
from .writes import cancel_job, close_attempts, fail_job, update_job


@dataclass(frozen=True, kw_only=True, slots=True)
class Reaped:
    job_id: uuid.UUID
    stage: str
    requeued: bool  # False: the job ended (cancelled, or failed: the stage kept losing its worker)


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkerBeat:
    """Who a worker's main process is (it reports this every few seconds)."""

    worker_id: str
    hostname: str
    pid: int
    started_at: datetime
    queues: tuple[str, ...] = ()  # the broker queues it consumes
    concurrency: int = 0  # how many stages it runs at once


class Leases:
    def __init__(self, db: Database, queue_for: QueueFor, admission: Admission) -> None:
        self._db = db
        self._queue_for = queue_for
        self._admission = admission

    def renew_lease(self, claim: Claim, lease_seconds: float) -> bool:
        """Extend the lease; returns True when the job's cancellation has been requested.

        One statement. Not durable: a renewal lost in a database crash only lets the lease expire
        early, and fencing stops the old runner's writes if another runner takes over.
        """
        cancel = select(JobRow.cancel_requested_at).where(JobRow.id == StageRunRow.job_id).scalar_subquery()
        with self._db.tx(durable=False) as tx:
            renewed = tx.conn.execute(
                update(StageRunRow)
                .where(*FENCED)
                .values(lease_expires_at=tx.now + timedelta(seconds=lease_seconds))
                .returning(cancel),
                fence_params(claim),
            ).one_or_none()
        if renewed is None:
            raise LeaseLost(f"stage {claim.stage.name} of job {claim.job.id} is no longer ours")
        return renewed[0] is not None

    # -- runners that died --------------------------------------------------------------------

    def reap_expired_leases(self, *, max_attempts: int, limit: int = 100) -> list[Reaped]:
        """Re-queue stages whose runner stopped renewing its lease (killed, frozen, partitioned)."""
        now = self._db.clock()
        with self._db.read() as conn:
            expired = conn.execute(
                select(StageRunRow.job_id, StageRunRow.name)
                .where(StageRunRow.status == StageStatus.RUNNING, StageRunRow.lease_expires_at < now)
                .limit(limit)
            ).all()
        reaped = []
        for job_id, stage in expired:
            with self._db.tx() as tx:
                outcome = self._reap(tx, job_id, stage, max_attempts)
            if outcome is not None:
                reaped.append(outcome)
        return reaped

    def _reap(self, tx: Tx, job_id: uuid.UUID, stage: str, max_attempts: int) -> Reaped | None:
        row = tx.lock_job(job_id)
        if row is None:
            return None
        run = tx.conn.execute(
            select(StageRunRow.__table__).where(StageRunRow.job_id == job_id, StageRunRow.name == stage)
        ).one()
        if (
            run.status != StageStatus.RUNNING
            or run.lease_expires_at is None
            or run.lease_expires_at >= tx.now
        ):
            return None  # renewed or taken over meanwhile
        action = after_lost_lease(
            cancel_requested=row.cancel_requested_at is not None,
            attempts_used=run.attempts - run.budget_start,
            max_attempts=max_attempts,
        )
        fence = run.fence + 1  # whatever the old runner still writes is refused from now on
        values: dict[str, Any] = dict(fence=fence, lease_owner=None, lease_expires_at=None, updated_at=tx.now)
        if action is LostLeaseAction.REQUEUE:
            values.update(status=StageStatus.QUEUED, available_at=tx.now)
        lost = ErrorInfo(code="worker_lost", message="the worker stopped renewing its lease")
        if action is LostLeaseAction.FAIL_JOB:
            lost = ErrorInfo(
                code="worker_lost",
                message=f"stage {stage} was lost with its worker {run.attempts} times; giving up",
            )
            values.update(
                status=StageStatus.FAILED,
                error_code=lost.code,
                error_message=lost.message,
                error_retryable=lost.retryable,
                finished_at=tx.now,
            )
        tx.conn.execute(
            update(StageRunRow)
            .where(StageRunRow.job_id == job_id, StageRunRow.name == stage, StageRunRow.fence == run.fence)
            .values(**values)
        )
        close_attempts(
            tx,
            job_id,
            stage=stage,
            outcome=AttemptOutcome.LOST,
            error=ErrorInfo(code="worker_lost", message="the worker stopped renewing its lease"),
        )
        if action is not LostLeaseAction.REQUEUE:  # (the maintenance tick then admits the user's next)
            if action is LostLeaseAction.CANCEL_JOB:
                cancel_job(tx, row)
            else:
                fail_job(tx, row, lost)
            return Reaped(job_id=job_id, stage=stage, requeued=False)
        write_messages(
            tx,
            self._queue_for,
            job_id=job_id,
            lane=run.routed_lane or row.lane,
            sends=[Send(stage=stage, kind=run.kind, fence=fence)],
        )
        update_job(
            tx,
            row,
            [
                Note(
                    stage=stage,
                    stage_status=StageStatus.QUEUED,
                    message="the worker stopped renewing its lease; re-queued",
                )
            ],
        )
        return Reaped(job_id=job_id, stage=stage, requeued=True)

    # -- runners that stop on purpose ----------------------------------------------------------

    def hand_back(self, claim: Claim) -> bool:
        """A draining worker gives up a stage it is running (drain.py): the stage is queued again at
        once under a new fence, its message goes out with the commit, and the attempt is recorded as
        `handed_back`. It does not count against the stage's retries (`budget_start` moves with it).
        False when the stage was no longer the claim's (nothing written)."""
        job_id, stage = claim.job.id, claim.stage.name
        fence = claim.fence + 1  # whatever the old runner still writes is refused from now on
        with self._db.tx() as tx:
            row = tx.lock_job(job_id)
            if row is None:
                return False
            moved = tx.conn.execute(
                update(StageRunRow)
                .where(*FENCED)
                .values(
                    status=StageStatus.QUEUED,
                    fence=fence,
                    lease_owner=None,
                    lease_expires_at=None,
                    available_at=tx.now,
                    budget_start=StageRunRow.budget_start + 1,
                    updated_at=tx.now,
                ),
                fence_params(claim),
            )
            if moved.rowcount != 1:
                return False
            close_attempts(
                tx,
                job_id,
                attempt_id=claim.attempt_id,
                outcome=AttemptOutcome.HANDED_BACK,
                error=ErrorInfo(code="handed_back", message="its worker stopped before the stage ended"),
            )
            write_messages(
                tx,
                self._queue_for,
                job_id=job_id,
                lane=claim.stage.routed_lane or row.lane,
                sends=[Send(stage=stage, kind=claim.stage.kind, fence=fence)],
            )
            update_job(
                tx,
                row,
                [
                    Note(
                        stage=stage,
                        stage_status=StageStatus.QUEUED,
                        message="its worker stopped (drain); handed back and re-queued",
                    )
                ],
            )
        return True

    # -- messages nobody ran ----------------------------------------------------------------------

    def redispatch_stale(self, *, older_than: timedelta, limit: int = 100) -> int:
        """Publish again the message of stages queued for longer than `older_than` with no claim.

        The last resort for a message lost where nothing notices (a broker that lost data). The
        common loss, a worker killed holding messages, is handled within a lease period by
        `reap_dead_workers`.
        """
        now = self._db.clock()
        unsent = exists().where(
            OutboxRow.job_id == StageRunRow.job_id,
            OutboxRow.stage == StageRunRow.name,
            OutboxRow.sent_at.is_(None),
        )
        with self._db.read() as conn:
            stale = conn.execute(
                select(StageRunRow.job_id, StageRunRow.name)
                .where(
                    StageRunRow.status == StageStatus.QUEUED,
                    StageRunRow.updated_at < now - older_than,
                    ~unsent,
                )
                .limit(limit)
            ).all()
        count = 0
        for job_id, stage in stale:
            with self._db.tx() as tx:
                if self.resend(tx, job_id, stage, queued_before=tx.now - older_than):
                    count += 1
        return count

    def resend(
        self,
        tx: Tx,
        job_id: uuid.UUID,
        stage: str,
        *,
        queued_before: datetime | None = None,
        reserved_by: str | None = None,
    ) -> bool:
        """Write a new message for a stage that is still queued (and unclaimed) and unchanged since
        `queued_before`; True if written. The stage's `updated_at` moves, so the next sweep waits again."""
        row = tx.lock_job(job_id)
        if row is None or row.status not in OPEN_JOB_STATUSES:
            return False
        conditions = [
            StageRunRow.job_id == job_id,
            StageRunRow.name == stage,
            StageRunRow.status == StageStatus.QUEUED,
        ]
        if queued_before is not None:
            conditions.append(StageRunRow.updated_at < queued_before)
        if reserved_by is not None:
            conditions.append(StageRunRow.reserved_by == reserved_by)
        touched = tx.conn.execute(
            update(StageRunRow)
            .where(*conditions)
            .values(updated_at=tx.now, reserved_by=None, reserved_at=None)
            .returning(StageRunRow.kind, StageRunRow.fence, StageRunRow.routed_lane)
        ).one_or_none()
        if touched is None:
            return False
        write_messages(
            tx,
            self._queue_for,
            job_id=job_id,
            lane=touched.routed_lane or row.lane,
            sends=[Send(stage=stage, kind=touched.kind, fence=touched.fence)],
        )
        return True

    # -- worker heartbeats and reserved messages ----------------------------------------------------

    def worker_heartbeat(self, beat: WorkerBeat) -> None:
        """Record that a worker lives (one statement, every few seconds per worker)."""
        with self._db.tx(durable=False) as tx:
            insert = pg_insert if tx.postgres else sqlite_insert
            statement = insert(WorkerRow).values(
                id=beat.worker_id,
                hostname=beat.hostname,
                pid=beat.pid,
                started_at=beat.started_at,
                last_seen=tx.now,
                queues=list(beat.queues),
                concurrency=beat.concurrency,
            )
            tx.conn.execute(
                statement.on_conflict_do_update(index_elements=[WorkerRow.id], set_={"last_seen": tx.now})
            )

    def worker_stopped(self, worker_id: str) -> None:
        """A worker that shuts down cleanly says so (the broker gets back what it held)."""
        with self._db.tx() as tx:
            tx.conn.execute(delete(WorkerRow).where(WorkerRow.id == worker_id))

    def maintenance_leader(self, *, queue: str, silent_for: timedelta) -> str | None:
        """The worker whose maintenance loop runs now: of the live workers (a beat within `silent_for`)
        that consume `queue`, the one with the smallest id. One read; when it dies, the next takes
        over once it has been silent for `silent_for`."""
        cutoff = self._db.clock() - silent_for
        with self._db.read() as conn:
            rows = conn.execute(
                select(WorkerRow.id, WorkerRow.queues)
                .where(WorkerRow.last_seen >= cutoff)
                .order_by(WorkerRow.id)
            ).all()
        return next((row.id for row in rows if queue in (row.queues or ())), None)

    def mark_reserved(self, worker_id: str, job_id: uuid.UUID, stage: str) -> None:
        """A worker took this stage's message from the broker (one statement in autocommit, one round
        trip; the claim clears it)."""
        self._db.write_one(
            _MARK_RESERVED,
            {"b_job": job_id, "b_stage": stage, "b_worker": worker_id, "b_at": self._db.clock()},
        )

    def reap_dead_workers(self, *, silent_for: timedelta) -> int:
        """Send again, now, the messages that workers silent for `silent_for` took and never claimed
        (a worker that never beat at all counts as silent); returns how many were re-sent."""
        cutoff = self._db.clock() - silent_for
        alive = exists().where(WorkerRow.id == StageRunRow.reserved_by, WorkerRow.last_seen >= cutoff)
        with self._db.read() as conn:
            orphans = conn.execute(
                select(StageRunRow.job_id, StageRunRow.name, StageRunRow.reserved_by)
                .where(
                    StageRunRow.status == StageStatus.QUEUED,
                    StageRunRow.reserved_by.is_not(None),
                    StageRunRow.reserved_at < cutoff,
                    ~alive,
                )
                .limit(500)
            ).all()
        resent = 0
        for job_id, stage, worker_id in orphans:
            with self._db.tx() as tx:
                if self.resend(tx, job_id, stage, reserved_by=worker_id):
                    resent += 1
        with self._db.tx() as tx:
            tx.conn.execute(delete(WorkerRow).where(WorkerRow.last_seen < cutoff))
        return resent


_MARK_RESERVED = (  # built once (see store/tx.py)
    update(StageRunRow)
    .where(
        StageRunRow.job_id == bindparam("b_job"),
        StageRunRow.name == bindparam("b_stage"),
        StageRunRow.status == StageStatus.QUEUED,
    )
    .values(reserved_by=bindparam("b_worker"), reserved_at=bindparam("b_at"))
)


__all__ = ["Leases", "Reaped", "WorkerBeat"]
