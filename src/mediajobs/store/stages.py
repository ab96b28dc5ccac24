"""The runner's side of the store: claim a stage under a lease, renew it, report progress, and
finish it. Every write after the claim is fenced: it only lands while the claim's fencing token is
still the stage's, so a runner that lost its lease cannot overwrite its successor's work."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from mediajobs.domain import ErrorInfo, Job, JobStatus, JsonDict, StageRun, StageStatus, get_pipeline
from mediajobs.domain.events import EventType
from mediajobs.errors import LeaseLost, NotFound

from .base import StoreBase
from .tables import ArtifactRow, AttemptRow, JobRow, StageRunRow


class Refusal(enum.StrEnum):
    """Why a stage message was not run (the message is dropped: the database says what happens)."""

    NO_JOB = "no_job"  # the job does not exist (deleted, or a message from another database)
    JOB_FINISHED = "job_finished"  # the job already reached a terminal state
    CANCELLED = "cancelled"  # cancellation was requested; the job is now cancelled
    ALREADY_DONE = "already_done"  # the stage's output is committed; never run it twice
    LEASED = "leased"  # another runner holds a live lease on the stage
    NOT_READY = "not_ready"  # the stages it needs have not succeeded
    NOT_DUE = "not_due"  # a retry backoff has not elapsed (a stale duplicate message)


@dataclass(frozen=True, kw_only=True, slots=True)
class Claim:
    """A runner's right to execute one stage, valid while `fence` is the stage's token."""

    job: Job
    stage: StageRun
    fence: int
    attempt: int
    attempt_id: int
    worker: str
    inputs: Mapping[str, JsonDict]  # committed outputs of the stages this one needs


@dataclass(frozen=True, kw_only=True, slots=True)
class ArtifactRecord:
    name: str
    content_type: str
    size: int
    path: str  # relative to the storage root


class StagesMixin(StoreBase):
    def claim_stage(
        self, job_id: uuid.UUID, stage: str, *, worker: str, lease_seconds: float
    ) -> Claim | Refusal:
        now = self.clock()
        with self._tx() as conn:
            self._lock_job(conn, job_id)
            try:
                job = self._load_job(conn, job_id)
            except NotFound:
                return Refusal.NO_JOB
            if job.status.terminal:
                return Refusal.JOB_FINISHED
            if job.cancel_requested_at is not None:
                self._close_attempts(conn, job_id, outcome="cancelled")
                self._finish_cancelled(conn, job_id)
                return Refusal.CANCELLED
            run = job.stage(stage)
            if run.status is StageStatus.SUCCEEDED:
                return Refusal.ALREADY_DONE
            if run.status in (StageStatus.FAILED, StageStatus.CANCELLED):
                return Refusal.JOB_FINISHED
            if run.status is StageStatus.PENDING:
                return Refusal.NOT_READY
            if run.status is StageStatus.RUNNING:
                if run.lease_expires_at is not None and run.lease_expires_at > now:
                    return Refusal.LEASED
                self._close_attempts(
                    conn,
                    job_id,
                    stage=stage,
                    outcome="lost",
                    error=ErrorInfo(code="worker_lost", message="lease expired"),
                )
            elif run.available_at is not None and run.available_at > now + timedelta(seconds=1):
                return Refusal.NOT_DUE
            fence = run.fence + 1
            attempt = run.attempts + 1
            result = conn.execute(
                update(StageRunRow)
                .where(
                    StageRunRow.job_id == job_id, StageRunRow.name == stage, StageRunRow.fence == run.fence
                )
                .values(
                    status="running",
                    fence=fence,
                    attempts=attempt,
                    lease_owner=worker,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    started_at=run.started_at or now,
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                return Refusal.LEASED
            conn.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status.in_(("queued", "running")))
                .values(
                    status=JobStatus.RUNNING.value,
                    current_stage=stage,
                    updated_at=now,
                    started_at=job.started_at or now,
                )
            )
            attempt_id = conn.execute(
                insert(AttemptRow)
                .values(
                    job_id=job_id, stage=stage, number=attempt, worker=worker, fence=fence, started_at=now
                )
                .returning(AttemptRow.id)
            ).scalar_one()
            self._emit(
                conn,
                job_id,
                stage=stage,
                stage_status="running",
                stage_percent=0.0,
                message=f"attempt {attempt} started on {worker}",
            )
            pipeline = get_pipeline(job.pipeline)
            spec = pipeline.spec(stage)
            inputs = {n: dict(job.stage(n).output or {}) for n in spec.needs}
            claimed = self._load_job(conn, job_id)
        return Claim(
            job=claimed,
            stage=claimed.stage(stage),
            fence=fence,
            attempt=attempt,
            attempt_id=attempt_id,
            worker=worker,
            inputs=inputs,
        )

    def renew_lease(self, claim: Claim, lease_seconds: float) -> bool:
        """Extend the lease; returns True when the job's cancellation has been requested.

        Not durable: a renewal lost in a database crash only lets the lease expire early, and fencing
        stops the old runner's writes if another runner takes over.
        """
        now = self.clock()
        with self._tx(durable=False) as conn:
            result = conn.execute(
                update(StageRunRow)
                .where(*self._fenced(claim))
                .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
            )
            if result.rowcount != 1:
                raise LeaseLost(f"stage {claim.stage.name} of job {claim.job.id} is no longer ours")
            cancel = conn.execute(
                select(JobRow.cancel_requested_at).where(JobRow.id == claim.job.id)
            ).scalar_one_or_none()
        return cancel is not None

    def report_progress(self, claim: Claim, percent: float | None, message: str | None = None) -> float:
        """Record a stage's percent (None: indeterminate) and log a progress event; returns the job's
        overall percent."""
        now = self.clock()
        values: dict[str, Any] = {"updated_at": now}
        if percent is not None:
            percent = max(0.0, min(100.0, percent))
            values["progress"] = percent
        with self._tx() as conn:  # durable: it logs an event, whose seq must never be handed out twice
            result = conn.execute(update(StageRunRow).where(*self._fenced(claim)).values(**values))
            if result.rowcount != 1:
                raise LeaseLost(f"stage {claim.stage.name} of job {claim.job.id} is no longer ours")
            job = self._load_job(conn, claim.job.id)
            overall = get_pipeline(job.pipeline).progress({s.name: s for s in job.stages})
            conn.execute(
                update(JobRow)
                .where(JobRow.id == claim.job.id, JobRow.status == "running")
                .values(progress=overall, updated_at=now)
            )
            self._emit(
                conn,
                claim.job.id,
                type=EventType.PROGRESS,
                stage=claim.stage.name,
                stage_status="running",
                stage_percent=percent,
                message=message,
            )
        return overall

    def complete_stage(self, claim: Claim, output: JsonDict, artifacts: Sequence[ArtifactRecord] = ()) -> Job:
        """Commit the stage's output (its checkpoint) and queue the stages it unblocks, atomically."""
        now = self.clock()
        job_id = claim.job.id
        with self._tx() as conn:
            self._lock_job(conn, job_id)
            result = conn.execute(
                update(StageRunRow)
                .where(*self._fenced(claim))
                .values(
                    status="succeeded",
                    output=output,
                    progress=100.0,
                    finished_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                    error_code=None,
                    error_message=None,
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                raise LeaseLost(f"stage {claim.stage.name} of job {job_id} is no longer ours")
            self._end_attempt(conn, claim, outcome="succeeded")
            if artifacts:
                names = [a.name for a in artifacts]
                conn.execute(
                    delete(ArtifactRow).where(ArtifactRow.job_id == job_id, ArtifactRow.name.in_(names))
                )
                conn.execute(
                    insert(ArtifactRow),
                    [
                        dict(
                            job_id=job_id,
                            name=a.name,
                            content_type=a.content_type,
                            size=a.size,
                            path=a.path,
                            created_at=now,
                        )
                        for a in artifacts
                    ],
                )
            job = self._load_job(conn, job_id)
            pipeline = get_pipeline(job.pipeline)
            runs = {s.name: s for s in job.stages}
            conn.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status.in_(("queued", "running")))
                .values(progress=pipeline.progress(runs))
            )
            self._emit(
                conn,
                job_id,
                stage=claim.stage.name,
                stage_status="succeeded",
                stage_percent=100.0,
                message=f"stage {claim.stage.name} done",
            )
            if job.cancel_requested_at is not None:
                self._finish_cancelled(conn, job_id)
                return self._load_job(conn, job_id)
            if all(s.status is StageStatus.SUCCEEDED for s in job.stages):
                conn.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.status.in_(("queued", "running")))
                    .values(
                        status=JobStatus.SUCCEEDED.value,
                        progress=100.0,
                        current_stage=None,
                        finished_at=now,
                        updated_at=now,
                    )
                )
                self._emit(conn, job_id, message="job succeeded")
            else:
                ready = pipeline.ready_after(runs)
                for spec in ready:
                    self._enqueue(
                        conn, job_id=job_id, stage=spec.name, kind=spec.kind, fence=runs[spec.name].fence
                    )
                running = [s.name for s in job.stages if s.status is StageStatus.RUNNING]
                candidates = running or [s.name for s in ready]
                current = candidates[0] if candidates else job.current_stage
                conn.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id)
                    .values(current_stage=current, progress=pipeline.progress(runs), updated_at=now)
                )
            return self._load_job(conn, job_id)

    def fail_attempt(self, claim: Claim, error: ErrorInfo, *, retry_delay: float | None) -> Job:
        """Record a failed attempt: queue a retry after `retry_delay` seconds, or fail the job."""
        now = self.clock()
        job_id = claim.job.id
        with self._tx() as conn:
            self._lock_job(conn, job_id)
            values: dict[str, Any] = dict(
                error_code=error.code,
                error_message=error.message,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            )
            if retry_delay is None:
                values.update(status="failed", finished_at=now)
            result = conn.execute(update(StageRunRow).where(*self._fenced(claim)).values(**values))
            if result.rowcount != 1:
                raise LeaseLost(f"stage {claim.stage.name} of job {job_id} is no longer ours")
            self._end_attempt(
                conn, claim, outcome="retry" if retry_delay is not None else "failed", error=error
            )
            cancel_requested = conn.execute(
                select(JobRow.cancel_requested_at).where(JobRow.id == job_id)
            ).scalar_one_or_none()
            if cancel_requested is not None:
                self._finish_cancelled(conn, job_id)
            elif retry_delay is not None:
                self._emit(
                    conn,
                    job_id,
                    stage=claim.stage.name,
                    stage_status="queued",
                    message=f"attempt {claim.attempt} failed ({error.code}: {error.message}); "
                    f"retrying in {retry_delay:.1f} s",
                )
                self._enqueue(
                    conn,
                    job_id=job_id,
                    stage=claim.stage.name,
                    kind=claim.stage.kind,
                    fence=claim.fence,
                    delay=retry_delay,
                )
            else:
                self._emit(
                    conn,
                    job_id,
                    stage=claim.stage.name,
                    stage_status="failed",
                    message=f"{error.code}: {error.message}",
                )
                self._fail_job(conn, job_id, error)
            return self._load_job(conn, job_id)

    def cancel_stage(self, claim: Claim) -> Job:
        """The running stage stopped because its job was cancelled."""
        with self._tx() as conn:
            self._lock_job(conn, claim.job.id)
            self._end_attempt(conn, claim, outcome="cancelled")
            self._finish_cancelled(conn, claim.job.id)
            return self._load_job(conn, claim.job.id)

    def release_lost(self, claim: Claim) -> None:
        """A runner that lost its lease closes its attempt record (nothing else is its to write)."""
        with self._tx() as conn:
            self._end_attempt(conn, claim, outcome="lease_lost")

    # -- helpers -------------------------------------------------------------------------------

    def _fenced(self, claim: Claim) -> tuple[Any, ...]:
        return (
            StageRunRow.job_id == claim.job.id,
            StageRunRow.name == claim.stage.name,
            StageRunRow.fence == claim.fence,
            StageRunRow.status == "running",
        )

    def _end_attempt(
        self, conn: Connection, claim: Claim, *, outcome: str, error: ErrorInfo | None = None
    ) -> None:
        conn.execute(
            update(AttemptRow)
            .where(AttemptRow.id == claim.attempt_id, AttemptRow.finished_at.is_(None))
            .values(
                finished_at=self.clock(),
                outcome=outcome,
                error_code=error.code if error else None,
                error_message=error.message if error else None,
            )
        )

    def _close_attempts(
        self,
        conn: Connection,
        job_id: uuid.UUID,
        *,
        outcome: str,
        stage: str | None = None,
        error: ErrorInfo | None = None,
    ) -> None:
        query = update(AttemptRow).where(AttemptRow.job_id == job_id, AttemptRow.finished_at.is_(None))
        if stage is not None:
            query = query.where(AttemptRow.stage == stage)
        conn.execute(
            query.values(
                finished_at=self.clock(),
                outcome=outcome,
                error_code=error.code if error else None,
                error_message=error.message if error else None,
            )
        )
