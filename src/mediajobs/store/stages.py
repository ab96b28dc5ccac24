"""The runner's side of the store: claim a stage under a lease, report progress, and finish it.

Every write after the claim is fenced: it only lands while the claim's fencing token is still the
stage's, so a runner that lost its lease cannot overwrite its successor's work. What follows each
outcome is decided by the pure rules in domain/transitions.py; this module writes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, update

from mediajobs.domain import (
    AttemptOutcome,
    ErrorInfo,
    Job,
    JobStatus,
    JsonDict,
    Pipeline,
    PipelineRegistry,
    Refusal,
    StageRun,
    StageStatus,
)
from mediajobs.domain.events import EventType
from mediajobs.domain.transitions import (
    FailureAction,
    after_failure,
    after_success,
    current_stage,
    decide_claim,
    fan_out_runs,
    job_progress,
)
from mediajobs.errors import LeaseLost

from .admission import Admission, JobKey
from .artifacts import ArtifactRecord, record_artifacts
from .claims import FENCED_UPDATE, Claim, Taken, claim_of, fence_params, take
from .events import JobHead, Note, log_events
from .fat import checkpoint, claim_at_once
from .jobs import load_runs
from .mapping import job_with_runs
from .metering import Quotas, limits_of, meter_stage, refusal
from .outbox import Send, write_messages
from .tables import JobRow
from .tx import Database, QueueFor, Tx
from .writes import (
    CANCEL_ERROR,
    cancel_job,
    close_attempts,
    fail_job,
    insert_runs,
    runs_after_failure,
    runs_cancelled,
    succeed_job,
    update_job,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Follow:
    """What a worker finishing a stage would run next itself, without the broker (`complete_and_follow`).

    `wants(queue, pipeline, stage, media_seconds)`: does it take a successor bound for `queue`?
    """

    worker: str
    lease_seconds: float
    wants: Callable[[str, str, str, float | None], bool]


class _Refused(Exception):
    """Raised inside a stage's completion when what it measured does not fit its owner's quota."""

    def __init__(self, error: ErrorInfo) -> None:
        super().__init__(error.message)
        self.error = error


class Stages:
    # PostgreSQL: a claim's common case in one statement, a completion's checkpoint in one (fat.py);
    # off only to measure the statement-by-statement path against them (bench/statement_overhead.py)
    one_statement = True

    def __init__(
        self,
        db: Database,
        pipelines: PipelineRegistry,
        admission: Admission,
        queue_for: QueueFor,
        quotas: Quotas | None = None,
    ) -> None:
        self._db = db
        self._pipelines = pipelines
        self._admission = admission
        self._queue_for = queue_for
        self._quotas = quotas  # each tier's limits, for metering (None: metered, never refused)

    def claim_stage(
        self, job_id: uuid.UUID, stage: str, *, worker: str, lease_seconds: float
    ) -> Claim | Refusal:
        with self._db.tx() as tx:
            if tx.postgres and self.one_statement:
                fat = claim_at_once(tx, job_id, stage, worker=worker, lease_seconds=lease_seconds)
                if fat is not None:
                    return self._claimed(tx, fat.row, fat.runs, fat.run, fat.attempt_id, worker)
            # SQLite, and every case but the common one on PostgreSQL: statement by statement
            row = tx.lock_job(job_id, with_tier=True)
            if row is None:
                return Refusal.NO_JOB
            runs = load_runs(tx.conn, job_id)
            run = next((r for r in runs if r.name == stage), None)
            if run is None:
                return Refusal.NO_JOB
            decision = decide_claim(
                job_status=JobStatus(row.status),
                cancel_requested=row.cancel_requested_at is not None,
                run=run,
                now=tx.now,
            )
            pipeline = self._pipelines.get_pipeline(row.pipeline)
            if decision.cancel_job:
                close_attempts(tx, job_id, outcome=AttemptOutcome.CANCELLED)
                cancel_job(tx, row, progress=job_progress(pipeline, runs))
                self._admission.freed(tx, row.owner_id)
            if decision.refusal is not None:
                return decision.refusal
            if decision.take_over:
                lost = ErrorInfo(code="worker_lost", message="lease expired")
                close_attempts(tx, job_id, stage=stage, outcome=AttemptOutcome.LOST, error=lost)
            taken = take(tx, job_id, run, worker=worker, lease_seconds=lease_seconds)
            if taken is None:
                return Refusal.LEASED
            mine = taken.run
            update_job(
                tx,
                row,
                [_started(mine, worker)],
                status=JobStatus.RUNNING,
                current_stage=stage,
                started_at=row.started_at or tx.now,
            )
            runs = tuple(mine if r.name == stage else r for r in runs)
            return self._claimed(tx, row, runs, mine, taken.attempt_id, worker)

    def _claimed(
        self, tx: Tx, row: Any, runs: tuple[StageRun, ...], mine: StageRun, attempt_id: int, worker: str
    ) -> Claim:
        """The claim of `mine`, just taken: `row` is its job's row as it was before (with `tier`),
        `runs` every stage run as it now is."""
        pipeline = self._pipelines.get_pipeline(row.pipeline)
        return claim_of(
            row,
            pipeline,
            runs,
            Taken(run=mine, attempt_id=attempt_id),
            worker,
            started_at=row.started_at or tx.now,
            updated_at=tx.now,
            tier=row.tier,
            started_job=row.started_at is None,
        )

    def report_progress(self, claim: Claim, percent: float | None, message: str | None = None) -> float:
        """Record a stage's percent (None: indeterminate) and log a progress event; returns the job's
        overall percent."""
        values: dict[str, Any] = {}
        if percent is not None:
            percent = max(0.0, min(100.0, percent))
            values["progress"] = percent
        job_id = claim.job.id
        with self._db.tx() as tx:  # durable: it logs an event, whose seq must never be handed out twice
            # The job row first (its seq), like every writer of a job: no deadlock with a cancel.
            head = tx.conn.execute(
                update(JobRow)
                .where(JobRow.id == job_id)
                .values(event_seq=JobRow.event_seq + 1)
                .returning(JobRow.event_seq, JobRow.owner_id, JobRow.status, JobRow.source_name)
            ).one_or_none()
            moved = tx.conn.execute(FENCED_UPDATE, {**fence_params(claim), "updated_at": tx.now, **values})
            if head is None or moved.rowcount != 1:
                raise LeaseLost(f"stage {claim.stage.name} of job {job_id} is no longer ours")
            overall = job_progress(self._pipeline(claim), load_runs(tx.conn, job_id))
            log_events(
                tx,
                JobHead(
                    job_id=job_id,
                    owner_id=head.owner_id,
                    status=head.status,
                    progress=overall,
                    file=head.source_name,
                    seq=head.event_seq - 1,
                ),
                [
                    Note(
                        type=EventType.PROGRESS,
                        stage=claim.stage.name,
                        stage_status=StageStatus.RUNNING,
                        stage_percent=percent,
                        message=message,
                    )
                ],
            )
        return overall

    def complete_stage(
        self,
        claim: Claim,
        output: JsonDict,
        artifacts: Sequence[ArtifactRecord] = (),
        children: Sequence[JsonDict] = (),
    ) -> Job:
        """Commit the stage's output (its checkpoint), its artifacts and the child runs it fanned out
        to, and hand on to the stages it unblocks, atomically."""
        return self.complete_and_follow(claim, output, artifacts, children)[0]

    def complete_and_follow(
        self,
        claim: Claim,
        output: JsonDict,
        artifacts: Sequence[ArtifactRecord] = (),
        children: Sequence[JsonDict] = (),
        follow: Follow | None = None,
    ) -> tuple[Job, Claim | None]:
        """`complete_stage`, and with `follow`, the claim of the first successor it unblocks that
        admission lets through and `follow.wants` (its queue is one this worker serves, its time fits):
        taken in the same transaction, under a new fence and lease, with no message (so no broker
        round trip); the other successors are queued as usual."""
        try:
            return self._complete(claim, output, artifacts, children, follow)
        except _Refused as refused:  # rolled back: the stage fails instead, its output is not kept
            return self.fail_attempt(claim, refused.error, retry_delay=None), None

    def _complete(
        self,
        claim: Claim,
        output: JsonDict,
        artifacts: Sequence[ArtifactRecord],
        children: Sequence[JsonDict],
        follow: Follow | None,
    ) -> tuple[Job, Claim | None]:
        job_id = claim.job.id
        followed: Claim | None = None
        with self._db.tx() as tx:
            row = self._lock_fenced(tx, claim)
            pipeline = self._pipeline(claim)
            verdict = meter_stage(
                tx,
                job_id=job_id,
                owner_id=row.owner_id,
                measured=row.charged_at is not None,
                pipeline=pipeline,
                stage=claim.stage.name,
                output=output,
                limits=lambda: limits_of(tx, self._quotas, row.owner_id),
            )
            if not verdict.allowed:
                raise _Refused(refusal(verdict))
            runs = checkpoint(tx, claim, output, one_statement=self.one_statement)
            record_artifacts(tx, job_id, artifacts)
            if children:
                parent = next(r for r in runs if r.name == claim.stage.name)
                new = fan_out_runs(pipeline, parent, children)
                insert_runs(tx, new, first_position=len(runs))
                runs = (*runs, *new)
            note = Note(
                stage=claim.stage.name,
                stage_status=StageStatus.SUCCEEDED,
                stage_percent=100.0,
                message=f"stage {claim.stage.name} done",
            )
            plan = after_success(
                pipeline,
                runs,
                cancel_requested=row.cancel_requested_at is not None,
                previous=row.current_stage,
            )
            changes: dict[str, Any] = {"updated_at": tx.now}
            if plan.cancel_job:
                cancel_job(tx, row, [note], progress=job_progress(pipeline, runs))
                runs = runs_cancelled(runs, tx.now)
                changes.update(_ended(tx.now, JobStatus.CANCELLED, CANCEL_ERROR))
                self._admission.freed(tx, row.owner_id)
            elif plan.job_succeeded:
                succeed_job(tx, row, [note])
                changes.update(status=JobStatus.SUCCEEDED, current_stage=None, finished_at=tx.now)
                self._admission.pass_slot(tx, row.owner_id)  # to the user's oldest waiting stage
            else:
                # this stage's slot goes to the job's next stage (or, when none is ready, to the
                # user's oldest waiting one); a holding policy admits the rest later
                if not plan.ready:
                    self._admission.pass_slot(tx, row.owner_id)
                keep = None if follow is None else self._follower(row, follow)
                handed_on = self._admission.hand_on(tx, JobKey.of(row), plan.ready, freed=1, keep=keep)
                handed = {r.name: r for r in handed_on.runs}
                runs = tuple(handed.get(r.name, r) for r in runs)
                notes = [note]
                taken = None
                if handed_on.kept is not None and follow is not None:
                    kept = handed_on.kept
                    taken = take(
                        tx,
                        job_id,
                        kept,
                        worker=follow.worker,
                        lease_seconds=follow.lease_seconds,
                        lane=kept.routed_lane,
                    )
                if taken is not None and follow is not None:
                    runs = tuple(taken.run if r.name == taken.run.name else r for r in runs)
                    notes.append(_started(taken.run, follow.worker))
                current = current_stage(runs, row.current_stage)
                update_job(tx, row, notes, progress=job_progress(pipeline, runs), current_stage=current)
                changes.update(current_stage=current)
                if taken is not None and follow is not None:
                    followed = self._followed(claim, row, pipeline, runs, taken, follow.worker)
            return replace(job_with_runs(row, runs, pipeline), **changes), followed

    def _follower(self, row: Row[Any], follow: Follow) -> Callable[[StageRun, str], bool]:
        """Does the finishing worker take this successor (routed to `lane`) itself?"""

        def keep(run: StageRun, lane: str) -> bool:
            queue = self._queue_for(lane, run.kind)
            return follow.wants(queue, str(row.pipeline), run.name, row.media_seconds)

        return keep

    def _followed(
        self,
        claim: Claim,
        row: Row[Any],
        pipeline: Pipeline,
        runs: tuple[StageRun, ...],
        taken: Taken,
        worker: str,
    ) -> Claim:
        """The claim of the successor taken in a completion's transaction."""
        return claim_of(
            row,
            pipeline,
            runs,
            taken,
            worker,
            started_at=row.started_at or claim.job.started_at,
            updated_at=taken.run.started_at or claim.job.updated_at,
            tier=claim.tier,
        )

    def fail_attempt(self, claim: Claim, error: ErrorInfo, *, retry_delay: float | None) -> Job:
        """Record a failed attempt: queue a retry after `retry_delay` seconds, or fail the job."""
        job_id = claim.job.id
        with self._db.tx() as tx:
            row = self._lock_fenced(tx, claim)
            action = after_failure(
                cancel_requested=row.cancel_requested_at is not None, retry_delay=retry_delay
            )
            values: dict[str, Any] = dict(
                error_code=error.code,
                error_message=error.message,
                error_retryable=error.retryable,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=tx.now,
            )
            if action is FailureAction.RETRY:
                assert retry_delay is not None
                values.update(status=StageStatus.QUEUED, available_at=tx.now + timedelta(seconds=retry_delay))
            elif action is FailureAction.FAIL_JOB:
                values.update(status=StageStatus.FAILED, finished_at=tx.now)
            failed = tx.conn.execute(FENCED_UPDATE, {**fence_params(claim), **values})
            if failed.rowcount != 1:
                raise LeaseLost(f"stage {claim.stage.name} of job {job_id} is no longer ours")
            outcome = AttemptOutcome.RETRY if retry_delay is not None else AttemptOutcome.FAILED
            close_attempts(tx, job_id, attempt_id=claim.attempt_id, outcome=outcome, error=error)
            pipeline = self._pipeline(claim)
            runs = load_runs(tx.conn, job_id)
            progress = job_progress(pipeline, runs)
            changes: dict[str, Any] = {"updated_at": tx.now}
            if action is FailureAction.CANCEL_JOB:
                cancel_job(tx, row, progress=progress)
                runs = runs_cancelled(runs, tx.now)
                changes.update(_ended(tx.now, JobStatus.CANCELLED, CANCEL_ERROR))
                self._admission.freed(tx, row.owner_id)
            elif action is FailureAction.RETRY:
                assert retry_delay is not None
                write_messages(
                    tx,
                    self._queue_for,
                    job_id=job_id,
                    lane=claim.stage.routed_lane or row.lane,
                    sends=[Send(stage=claim.stage.name, kind=claim.stage.kind, fence=claim.fence)],
                    delay=retry_delay,
                )
                message = (
                    f"attempt {claim.attempt} failed ({error.code}: {error.message}); "
                    f"retrying in {retry_delay:.1f} s"
                )
                update_job(
                    tx,
                    row,
                    [Note(stage=claim.stage.name, stage_status=StageStatus.QUEUED, message=message)],
                    progress=progress,
                )
            else:
                stage_note = Note(
                    stage=claim.stage.name,
                    stage_status=StageStatus.FAILED,
                    message=f"{error.code}: {error.message}",
                )
                fail_job(tx, row, error, [stage_note], progress=progress)
                runs = runs_after_failure(runs)
                self._admission.pass_slot(tx, row.owner_id)
                changes.update(_ended(tx.now, JobStatus.FAILED, error))
            return replace(job_with_runs(row, runs, pipeline), **changes)

    def cancel_stage(self, claim: Claim) -> Job:
        """The running stage stopped because its job was cancelled."""
        with self._db.tx() as tx:
            row = self._lock_fenced(tx, claim)
            close_attempts(tx, claim.job.id, attempt_id=claim.attempt_id, outcome=AttemptOutcome.CANCELLED)
            pipeline = self._pipeline(claim)
            runs = load_runs(tx.conn, claim.job.id)
            cancel_job(tx, row, progress=job_progress(pipeline, runs))
            self._admission.freed(tx, row.owner_id)
            ended = JobStatus(row.status).terminal
            job = job_with_runs(row, runs if ended else runs_cancelled(runs, tx.now), pipeline)
            if ended:
                return job
            return replace(
                job,
                updated_at=tx.now,
                **_ended(tx.now, JobStatus.CANCELLED, CANCEL_ERROR),
            )

    def release_lost(self, claim: Claim) -> None:
        """A runner that lost its lease closes its attempt record (nothing else is its to write)."""
        with self._db.tx() as tx:
            close_attempts(tx, claim.job.id, attempt_id=claim.attempt_id, outcome=AttemptOutcome.LEASE_LOST)

    # -- helpers -------------------------------------------------------------------------------

    def _pipeline(self, claim: Claim) -> Pipeline:
        return self._pipelines.get_pipeline(claim.job.pipeline)

    @staticmethod
    def _lock_fenced(tx: Tx, claim: Claim) -> Row[Any]:
        row = tx.lock_job(claim.job.id)
        if row is None:
            raise LeaseLost(f"job {claim.job.id} is gone")
        return row


def _started(run: StageRun, worker: str) -> Note:
    return Note(
        stage=run.name,
        stage_status=StageStatus.RUNNING,
        stage_percent=0.0,
        message=f"attempt {run.attempts} started on {worker}",
    )


def _ended(now: datetime, status: JobStatus, error: ErrorInfo) -> dict[str, Any]:
    return {"status": status, "finished_at": now, "error": error}


__all__ = ["ArtifactRecord", "Claim", "Follow", "Stages"]
