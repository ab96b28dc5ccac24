"""The rules of a job's life, as pure functions: the store asks, then writes what they decide.

    may this delivery claim the stage?          decide_claim
    what follows a success?                      after_success (which stages are ready, is the job done)
    what follows a failed attempt?               after_failure
    what follows a lost lease?                   after_lost_lease
    what does a cancel request do?               on_cancel_request
    may a failed job be retried by hand?         may_retry
    which runs does a fan-out create?            fan_out_runs
    how far is the job?                          job_progress

Nothing here touches a database; every function gets the job's state and returns a decision.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from mediajobs.errors import PermanentError

from .graph import Pipeline, code_name
from .models import JobStatus, JsonDict, StageRun, StageStatus

CLAIM_EARLY_GRACE = timedelta(seconds=1)
"""A retry may be claimed this much before it is due (clocks of API and workers differ a little)."""


class Refusal(enum.StrEnum):
    """Why a delivered message does not run its stage (the message is then simply dropped)."""

    NO_JOB = "no_job"  # the job does not exist (deleted, or a message from another deployment)
    JOB_FINISHED = "job_finished"  # the job already ended (or this stage failed or was cancelled)
    CANCELLED = "cancelled"  # the job's cancel was requested: it ends now, nothing more runs
    ALREADY_DONE = "already_done"  # the stage's checkpoint is committed: never run twice
    NOT_READY = "not_ready"  # the stages it needs have not all succeeded, or it was not admitted
    LEASED = "leased"  # another runner holds a live lease on it
    NOT_DUE = "not_due"  # a retry whose backoff has not elapsed


@dataclass(frozen=True, kw_only=True, slots=True)
class ClaimDecision:
    refusal: Refusal | None = None  # None: claim it
    take_over: bool = False  # the previous runner's lease expired: record its attempt as lost
    cancel_job: bool = False  # end the job as cancelled now (its cancel was requested)


def decide_claim(
    *, job_status: JobStatus, cancel_requested: bool, run: StageRun, now: datetime
) -> ClaimDecision:
    if job_status.terminal:
        return ClaimDecision(refusal=Refusal.JOB_FINISHED)
    if cancel_requested:
        return ClaimDecision(refusal=Refusal.CANCELLED, cancel_job=True)
    status = run.status
    if status is StageStatus.SUCCEEDED:
        return ClaimDecision(refusal=Refusal.ALREADY_DONE)
    if status in (StageStatus.FAILED, StageStatus.CANCELLED, StageStatus.SKIPPED):
        return ClaimDecision(refusal=Refusal.JOB_FINISHED)
    if status in (StageStatus.PENDING, StageStatus.READY):
        return ClaimDecision(refusal=Refusal.NOT_READY)
    if status is StageStatus.RUNNING:
        if run.lease_expires_at is not None and run.lease_expires_at > now:
            return ClaimDecision(refusal=Refusal.LEASED)
        return ClaimDecision(take_over=True)
    if run.available_at is not None and run.available_at > now + CLAIM_EARLY_GRACE:
        return ClaimDecision(refusal=Refusal.NOT_DUE)
    return ClaimDecision()


# -- the graph at run time ----------------------------------------------------------------------------


def children_of(parent: str, runs: Iterable[StageRun]) -> list[StageRun]:
    """A fan-out parent's children, in index order."""
    return sorted((r for r in runs if r.parent == parent), key=lambda r: r.index or 0)


def needs_of(pipeline: Pipeline, run: StageRun, runs: Iterable[StageRun]) -> list[str]:
    """Every run `run` waits for: its declared needs and, for each need that fanned out, its children
    (a child waits only for its parent)."""
    spec = pipeline.spec_of(run.name, run.parent)
    names: list[str] = []
    all_runs = list(runs)
    for need in spec.needs:
        names.append(need)
        if run.parent != need:
            names.extend(child.name for child in children_of(need, all_runs))
    return names


def inputs_of(pipeline: Pipeline, run: StageRun, runs: Iterable[StageRun]) -> dict[str, str]:
    """{input name: run name} of what `run`'s code reads: each need under the name its spec gives it
    (or its own), and the children of a fan-out it joins under their own names."""
    spec = pipeline.spec_of(run.name, run.parent)
    declared = {need for need in spec.needs}
    return {
        spec.input_name(name) if name in declared else name: name for name in needs_of(pipeline, run, runs)
    }


def ready_stages(pipeline: Pipeline, runs: Iterable[StageRun]) -> tuple[StageRun, ...]:
    """Pending runs whose every need (children of fan-outs included) has succeeded."""
    all_runs = list(runs)
    by_name = {r.name: r for r in all_runs}
    ready = []
    for run in all_runs:
        if run.status is not StageStatus.PENDING:
            continue
        needs = needs_of(pipeline, run, all_runs)
        if all(n in by_name and by_name[n].status is StageStatus.SUCCEEDED for n in needs):
            ready.append(run)
    return tuple(ready)


def current_stage(runs: Sequence[StageRun], previous: str | None = None) -> str | None:
    """The stage to show as the job's current one: the first running, else the first waiting its turn."""
    for wanted in ((StageStatus.RUNNING,), (StageStatus.QUEUED, StageStatus.READY)):
        for run in runs:
            if run.status in wanted:
                return run.name
    return previous


def job_done(runs: Iterable[StageRun]) -> bool:
    return all(r.status is StageStatus.SUCCEEDED for r in runs)


def job_progress(pipeline: Pipeline, runs: Iterable[StageRun]) -> float:
    """Overall percent 0-100: each declared stage's percent by its weight, and each fan-out's share
    by the mean of its children (nothing of it before the children exist)."""
    by_name: dict[str, StageRun] = {}
    kids: dict[str, list[StageRun]] = {}
    for run in runs:
        if run.parent is None:
            by_name[run.name] = run
        else:
            kids.setdefault(run.parent, []).append(run)
    total = sum(
        s.weight + (s.fan_out.weight if s.fan_out and not s.fan_out.share_of else 0.0)
        for s in pipeline.stages
    )
    given: dict[str, float] = {}  # weight a join hands to the children it waits for (FanOut.share_of)
    for spec in pipeline.stages:
        if spec.fan_out is not None and spec.fan_out.share_of and kids.get(spec.name):
            given[spec.fan_out.share_of] = given.get(spec.fan_out.share_of, 0.0) + spec.fan_out.weight
    done = 0.0
    for spec in pipeline.stages:
        declared = by_name.get(spec.name)
        if declared is not None:
            done += (spec.weight - given.get(spec.name, 0.0)) * _percent(declared)
        if spec.fan_out is not None and declared is not None and declared.status is StageStatus.SUCCEEDED:
            children = kids.get(spec.name, [])
            if spec.fan_out.share_of and not children:
                continue  # no children: the join keeps its whole weight
            share = sum(_percent(c) for c in children) / len(children) if children else 100.0
            done += spec.fan_out.weight * share
    return round(done / (total or 1.0), 2)


def _percent(run: StageRun) -> float:
    if run.status is StageStatus.SUCCEEDED:
        return 100.0
    return max(0.0, min(100.0, run.progress))


def fan_out_runs(pipeline: Pipeline, parent: StageRun, items: Sequence[JsonDict]) -> tuple[StageRun, ...]:
    """The child runs a parent's result creates (pending; `ready_stages` then releases them)."""
    spec = pipeline.spec(parent.name)
    fan_out = spec.fan_out
    if fan_out is None:
        raise PermanentError(
            f"stage {parent.name!r} returned {len(items)} children but does not fan out",
            code="invalid_fan_out",
        )
    if len(items) > fan_out.max_children:
        raise PermanentError(
            f"stage {parent.name!r} returned {len(items)} children; at most {fan_out.max_children} allowed",
            code="too_many_children",
        )
    return tuple(
        StageRun(
            job_id=parent.job_id,
            name=fan_out.child_name(i),
            kind=fan_out.kind.name,
            run=code_name(fan_out.code, fan_out.child),
            parent=parent.name,
            index=i,
            params=dict(item),
            status=StageStatus.PENDING,
        )
        for i, item in enumerate(items)
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class SuccessPlan:
    cancel_job: bool = False  # the job's cancel was requested meanwhile: end it, start nothing
    job_succeeded: bool = False  # that was the last stage
    ready: tuple[StageRun, ...] = ()  # stages to hand to admission
    current_stage: str | None = None


def after_success(
    pipeline: Pipeline, runs: Sequence[StageRun], *, cancel_requested: bool, previous: str | None = None
) -> SuccessPlan:
    """What follows a stage's success, given every run of the job after it (children included)."""
    if cancel_requested:
        return SuccessPlan(cancel_job=True)
    if job_done(runs):
        return SuccessPlan(job_succeeded=True)
    ready = ready_stages(pipeline, runs)
    ready_names = {r.name for r in ready}
    shown = [replace(r, status=StageStatus.QUEUED) if r.name in ready_names else r for r in runs]
    return SuccessPlan(ready=ready, current_stage=current_stage(shown, previous))


class FailureAction(enum.StrEnum):
    RETRY = "retry"  # queue the stage again after its backoff
    FAIL_JOB = "fail_job"  # the stage failed for good, and so did the job
    CANCEL_JOB = "cancel_job"  # the job's cancel was requested: end it as cancelled instead


def after_failure(*, cancel_requested: bool, retry_delay: float | None) -> FailureAction:
    if cancel_requested:
        return FailureAction.CANCEL_JOB
    return FailureAction.FAIL_JOB if retry_delay is None else FailureAction.RETRY


class LostLeaseAction(enum.StrEnum):
    REQUEUE = "requeue"  # run it again from its last checkpoint
    FAIL_JOB = "fail_job"  # it died with its worker too often: a poison input, stop trying
    CANCEL_JOB = "cancel_job"  # the job's cancel was requested: end it


def after_lost_lease(*, cancel_requested: bool, attempts_used: int, max_attempts: int) -> LostLeaseAction:
    if cancel_requested:
        return LostLeaseAction.CANCEL_JOB
    if attempts_used >= max_attempts:
        return LostLeaseAction.FAIL_JOB
    return LostLeaseAction.REQUEUE


class CancelAction(enum.StrEnum):
    CONFLICT = "conflict"  # the job already ended
    CANCEL_NOW = "cancel_now"  # nothing runs: the job ends as cancelled at once
    WAIT_FOR_RUNNER = "wait_for_runner"  # a stage runs: its heartbeat sees the request and stops it


def on_cancel_request(job_status: JobStatus, runs: Iterable[StageRun]) -> CancelAction:
    if job_status.terminal:
        return CancelAction.CONFLICT
    if any(r.status is StageStatus.RUNNING for r in runs):
        return CancelAction.WAIT_FOR_RUNNER
    return CancelAction.CANCEL_NOW


def may_retry(job_status: JobStatus) -> bool:
    """A manual retry re-runs a failed or cancelled job from its first unfinished stage."""
    return job_status in (JobStatus.FAILED, JobStatus.CANCELLED)


__all__ = [
    "CLAIM_EARLY_GRACE",
    "CancelAction",
    "ClaimDecision",
    "FailureAction",
    "LostLeaseAction",
    "Refusal",
    "SuccessPlan",
    "after_failure",
    "after_lost_lease",
    "after_success",
    "children_of",
    "current_stage",
    "decide_claim",
    "fan_out_runs",
    "inputs_of",
    "job_done",
    "job_progress",
    "may_retry",
    "needs_of",
    "on_cancel_request",
    "ready_stages",
]
