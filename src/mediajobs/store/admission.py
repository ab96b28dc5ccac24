"""The store's side of admission: ask the policy (domain/admission.py) which ready stages go to the
broker, and write the answer (queued + an outbox message, or ready to wait).

It runs inside the transaction that made the stages ready (submit, a stage's success, a manual
retry), and on the maintenance tick for stages that were left waiting.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from mediajobs.domain import (
    AdmissionPolicy,
    AdmitAll,
    Candidate,
    JobStatus,
    StageRun,
    StageStatus,
)

from .mapping import stage_from_row
from .outbox import Send, write_messages
from .tables import JobRow, StageRunRow
from .tx import Database, QueueFor, Tx
from .writes import set_status

IN_FLIGHT = (StageStatus.QUEUED, StageStatus.RUNNING)


class _TxLoad:
    """In-flight counts for the policy, read in the caller's transaction, only when asked."""

    def __init__(self, tx: Tx) -> None:
        self._tx = tx
        self._counts: dict[str, int] = {}

    def in_flight(self, owner_id: str) -> int:
        if owner_id not in self._counts:
            self._counts[owner_id] = int(
                self._tx.conn.execute(
                    select(func.count())
                    .select_from(StageRunRow)
                    .join(JobRow, JobRow.id == StageRunRow.job_id)
                    .where(JobRow.owner_id == owner_id, StageRunRow.status.in_(IN_FLIGHT))
                ).scalar_one()
            )
        return self._counts[owner_id]


@dataclass(frozen=True, kw_only=True, slots=True)
class JobKey:
    """What admission needs to know of the job a stage belongs to."""

    id: uuid.UUID
    owner_id: str
    lane: str
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> JobKey:
        return cls(id=row.id, owner_id=row.owner_id, lane=row.lane, created_at=row.created_at)


class Admission:
    def __init__(self, db: Database, queue_for: QueueFor, policy: AdmissionPolicy | None = None) -> None:
        self._db = db
        self._queue_for = queue_for
        self.policy: AdmissionPolicy = policy or AdmitAll()

    def decide(self, tx: Tx, job: JobKey, ready: Sequence[StageRun]) -> set[str]:
        """Names of the ready stages the policy admits now (no writes)."""
        if not ready:
            return set()
        candidates = [_candidate(job, run) for run in ready]
        return {c.stage for c in self.policy.admit(candidates, _TxLoad(tx))}

    def hand_on(self, tx: Tx, job: JobKey, ready: Sequence[StageRun]) -> tuple[StageRun, ...]:
        """Admit or park stages that just became ready; returns them in their new state."""
        admitted = self.decide(tx, job, ready)
        go = [r for r in ready if r.name in admitted]
        wait = [r for r in ready if r.name not in admitted]
        set_status(tx, job.id, [r.name for r in go], StageStatus.QUEUED, **_queued(tx))
        set_status(tx, job.id, [r.name for r in wait], StageStatus.READY, available_at=tx.now)
        self.send(tx, job, go)
        return tuple(
            replace(
                r, status=StageStatus.QUEUED if r.name in admitted else StageStatus.READY, available_at=tx.now
            )
            for r in ready
        )

    def send(self, tx: Tx, job: JobKey, runs: Sequence[StageRun]) -> None:
        write_messages(
            tx,
            self._queue_for,
            job_id=job.id,
            lane=job.lane,
            sends=[Send(stage=r.name, kind=r.kind, fence=r.fence) for r in runs],
        )

    def admit_waiting(self, *, limit: int = 200) -> int:
        """The maintenance tick: offer every waiting (ready) stage to the policy again."""
        with self._db.read() as conn:
            job_ids = list(
                conn.execute(
                    select(StageRunRow.job_id)
                    .where(StageRunRow.status == StageStatus.READY)
                    .group_by(StageRunRow.job_id)
                    .limit(limit)
                ).scalars()
            )
        if not job_ids:
            return 0
        with self._db.tx() as tx:
            jobs = select(JobRow.__table__).where(
                JobRow.id.in_(job_ids),
                JobRow.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
                JobRow.cancel_requested_at.is_(None),
            )
            if tx.postgres:  # jobs first, like every writer; another admitter takes the others
                jobs = jobs.with_for_update(skip_locked=True)
            keys = {row.id: JobKey.of(row) for row in tx.conn.execute(jobs)}
            if not keys:
                return 0
            rows = tx.conn.execute(
                select(StageRunRow.__table__).where(
                    StageRunRow.job_id.in_(list(keys)), StageRunRow.status == StageStatus.READY
                )
            ).all()
            runs = {(r.job_id, r.name): stage_from_row(r) for r in rows}
            candidates = [_candidate(keys[job_id], run) for (job_id, _), run in runs.items()]
            admitted = self.policy.admit(candidates, _TxLoad(tx))
            by_job: dict[uuid.UUID, list[StageRun]] = {}
            for candidate in admitted:
                by_job.setdefault(candidate.job_id, []).append(runs[(candidate.job_id, candidate.stage)])
            for job_id, go in by_job.items():
                set_status(tx, job_id, [r.name for r in go], StageStatus.QUEUED, **_queued(tx))
                self.send(tx, keys[job_id], go)
            return len(admitted)


def _queued(tx: Tx) -> dict[str, Any]:
    return {"available_at": tx.now, "lease_owner": None, "lease_expires_at": None}


def _candidate(job: JobKey, run: StageRun) -> Candidate:
    return Candidate(
        job_id=job.id,
        stage=run.name,
        kind=run.kind,
        owner_id=job.owner_id,
        lane=job.lane,
        job_created_at=job.created_at,
    )


__all__ = ["Admission", "JobKey"]
