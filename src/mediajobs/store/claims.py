"""A runner's claim on a stage: the record it holds, the one write that takes a stage, and the fence.

A claim is taken in two places: `Stages.claim_stage`, when a message arrives, and
`Stages.complete_and_follow`, when the stage a worker just finished hands on to a successor this
worker serves (it is claimed in the completion's own transaction: no message, no broker round trip).
Both write it the same way (`take`), and every later write of the runner is fenced by the claim's
token (`FENCED`, `fence_params`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, update

from mediajobs.domain import Job, JobStatus, JsonDict, Pipeline, StageRun, StageStatus
from mediajobs.domain.transitions import inputs_of

from .mapping import job_with_runs
from .tables import AttemptRow, StageRunRow
from .tx import Tx


@dataclass(frozen=True, kw_only=True, slots=True)
class Claim:
    """A runner's right to execute one stage, valid while `fence` is the stage's token."""

    job: Job
    stage: StageRun
    fence: int
    attempt: int
    attempt_id: int
    worker: str
    inputs: Mapping[str, JsonDict]  # committed outputs of the stages this one waits for, by input name
    tier: str | None = None  # the job owner's tier (for the hooks' events)
    started_job: bool = False  # this claim started its job (the job's first stage to run)


@dataclass(frozen=True, kw_only=True, slots=True)
class Taken:
    """What `take` wrote: the run as it now is, and its attempt record's id."""

    run: StageRun
    attempt_id: int


def take(
    tx: Tx, job_id: uuid.UUID, run: StageRun, *, worker: str, lease_seconds: float, lane: str | None = None
) -> Taken | None:
    """Move `run` (at its current fence) to running under a new fence and a lease held by `worker`, and
    open its attempt record: two statements. `lane`: the lane admission routed it to, when it was
    never queued (a successor its predecessor's worker follows). None when the run moved meanwhile."""
    fence, attempt = run.fence + 1, run.attempts + 1
    expires = tx.now + timedelta(seconds=lease_seconds)
    started = run.started_at or tx.now
    values: dict[str, Any] = {
        "c_job": job_id,
        "c_stage": run.name,
        "c_fence": run.fence,
        "status": StageStatus.RUNNING,
        "fence": fence,
        "attempts": attempt,
        "lease_owner": worker,
        "lease_expires_at": expires,
        "started_at": started,
        "reserved_by": None,
        "reserved_at": None,
        "updated_at": tx.now,
    }
    if lane is not None:
        values["routed_lane"] = lane
    claimed = tx.conn.execute(_CLAIM, values)
    if claimed.rowcount != 1:
        return None
    attempt_id = tx.conn.execute(
        _INSERT_ATTEMPT,
        {
            "job_id": job_id,
            "stage": run.name,
            "number": attempt,
            "worker": worker,
            "fence": fence,
            "started_at": tx.now,
        },
    ).scalar_one()
    mine = replace(
        run,
        routed_lane=lane if lane is not None else run.routed_lane,
        status=StageStatus.RUNNING,
        fence=fence,
        attempts=attempt,
        lease_owner=worker,
        lease_expires_at=expires,
        started_at=started,
    )
    return Taken(run=mine, attempt_id=attempt_id)


# Hot statements built once (see store/tx.py); their SET clauses come from the parameters.
_CLAIM = update(StageRunRow).where(
    StageRunRow.job_id == bindparam("c_job"),
    StageRunRow.name == bindparam("c_stage"),
    StageRunRow.fence == bindparam("c_fence"),
)
_INSERT_ATTEMPT = insert(AttemptRow).returning(AttemptRow.id)
# The rows a claim may still write: its stage, at its fence, still running. Bound parameters, so a
# statement built on it is built once; execute it with `fence_params(claim)`.
FENCED = (
    StageRunRow.job_id == bindparam("f_job"),
    StageRunRow.name == bindparam("f_stage"),
    StageRunRow.fence == bindparam("f_fence"),
    StageRunRow.status == StageStatus.RUNNING,
)
FENCED_UPDATE = update(StageRunRow).where(*FENCED)  # SET clause from the parameters


def fence_params(claim: Claim) -> dict[str, Any]:
    return {"f_job": claim.job.id, "f_stage": claim.stage.name, "f_fence": claim.fence}


def claim_of(
    row: Any,
    pipeline: Pipeline,
    runs: tuple[StageRun, ...],
    taken: Taken,
    worker: str,
    *,
    started_at: datetime | None,
    updated_at: datetime,
    tier: str | None,
    started_job: bool = False,
) -> Claim:
    """The claim of a run just taken (`runs`: every run of its job as it now is, `row`: the job's)."""
    mine = taken.run
    by_name = {r.name: r for r in runs}
    needs = inputs_of(pipeline, mine, runs)
    inputs = {name: dict(by_name[run_name].output or {}) for name, run_name in needs.items()}
    job = replace(
        job_with_runs(row, runs, pipeline),
        status=JobStatus.RUNNING,
        current_stage=mine.name,
        started_at=started_at,
        updated_at=updated_at,
    )
    return Claim(
        job=job,
        stage=mine,
        fence=mine.fence,
        attempt=mine.attempts,
        attempt_id=taken.attempt_id,
        worker=worker,
        inputs=inputs,
        tier=tier,
        started_job=started_job,
    )


__all__ = ["FENCED", "FENCED_UPDATE", "Claim", "Taken", "claim_of", "fence_params", "take"]
