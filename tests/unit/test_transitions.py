"""The transition rules (domain/transitions.py) over tables of cases, and the graph's declaration checks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mediajobs.domain import FanOut, JobStatus, Pipeline, PipelineRegistry, StageRun, StageSpec, StageStatus
from mediajobs.domain.transitions import (
    CancelAction,
    FailureAction,
    LostLeaseAction,
    Refusal,
    after_failure,
    after_lost_lease,
    after_success,
    current_stage,
    decide_claim,
    fan_out_runs,
    job_progress,
    may_retry,
    needs_of,
    on_cancel_request,
    ready_stages,
)
from mediajobs.errors import InvalidRequest, PermanentError
from mediajobs.pipelines import kinds


def work(ctx: object) -> object:
    raise AssertionError("the rules never run a stage")


JOB = uuid.UUID(int=7)
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
S = StageStatus

FAN = Pipeline(
    name="fan",
    stages=(
        StageSpec(name="split", code=work, kind=kinds.MEDIA, weight=1.0,
                  fan_out=FanOut(child="part", code=work, kind=kinds.TRANSCRIBE, weight=2.0,
                                 max_children=10)),
        StageSpec(name="merge", code=work, kind=kinds.MEDIA, needs=("split",), weight=1.0),
        StageSpec(name="publish", code=work, kind=kinds.DOWNLOAD, needs=("merge",), weight=0.0),
    ),
)  # fmt: skip


def run(name: str, status: StageStatus, **fields: object) -> StageRun:
    return StageRun(job_id=JOB, name=name, kind="media", status=status, **fields)  # type: ignore[arg-type]


def child(index: int, status: StageStatus, progress: float = 0.0) -> StageRun:
    return StageRun(
        job_id=JOB, name=f"part[{index}]", kind="transcribe", status=status, parent="split", index=index,
        run="work", progress=progress,
    )  # fmt: skip


# -- may this delivery claim the stage? -----------------------------------------------------------

LIVE = NOW + timedelta(seconds=10)
EXPIRED = NOW - timedelta(seconds=1)


@pytest.mark.parametrize(
    ("job_status", "cancel", "stage", "refusal", "take_over", "cancel_job"),
    [
        (JobStatus.QUEUED, False, run("a", S.QUEUED, available_at=NOW), None, False, False),
        (JobStatus.RUNNING, False, run("a", S.QUEUED, available_at=NOW + timedelta(seconds=0.5)),
         None, False, False),
        (JobStatus.RUNNING, False, run("a", S.QUEUED, available_at=NOW + timedelta(seconds=5)),
         Refusal.NOT_DUE, False, False),
        (JobStatus.RUNNING, False, run("a", S.PENDING), Refusal.NOT_READY, False, False),
        (JobStatus.RUNNING, False, run("a", S.READY), Refusal.NOT_READY, False, False),
        (JobStatus.RUNNING, False, run("a", S.SUCCEEDED), Refusal.ALREADY_DONE, False, False),
        (JobStatus.RUNNING, False, run("a", S.FAILED), Refusal.JOB_FINISHED, False, False),
        (JobStatus.RUNNING, False, run("a", S.CANCELLED), Refusal.JOB_FINISHED, False, False),
        (JobStatus.RUNNING, False, run("a", S.RUNNING, lease_expires_at=LIVE), Refusal.LEASED, False, False),
        (JobStatus.RUNNING, False, run("a", S.RUNNING, lease_expires_at=EXPIRED), None, True, False),
        (JobStatus.RUNNING, True, run("a", S.QUEUED), Refusal.CANCELLED, False, True),
        (JobStatus.SUCCEEDED, False, run("a", S.QUEUED), Refusal.JOB_FINISHED, False, False),
        (JobStatus.CANCELLED, True, run("a", S.QUEUED), Refusal.JOB_FINISHED, False, False),
    ],
    ids=[
        "queued-and-due", "due-within-the-clock-grace", "retry-not-due", "needs-not-met", "not-admitted",
        "already-done", "stage-failed", "stage-cancelled", "live-lease", "expired-lease-taken-over",
        "cancel-requested", "job-finished", "job-cancelled",
    ],
)  # fmt: skip
def test_decide_claim(
    job_status: JobStatus,
    cancel: bool,
    stage: StageRun,
    refusal: Refusal | None,
    take_over: bool,
    cancel_job: bool,
) -> None:
    decision = decide_claim(job_status=job_status, cancel_requested=cancel, run=stage, now=NOW)
    assert (decision.refusal, decision.take_over, decision.cancel_job) == (refusal, take_over, cancel_job)


# -- what follows a failure, a lost lease, a cancel request -----------------------------------------


@pytest.mark.parametrize(
    ("cancel", "delay", "action"),
    [
        (False, 2.0, FailureAction.RETRY),
        (False, 0.0, FailureAction.RETRY),
        (False, None, FailureAction.FAIL_JOB),
        (True, 2.0, FailureAction.CANCEL_JOB),
        (True, None, FailureAction.CANCEL_JOB),
    ],
)
def test_after_failure(cancel: bool, delay: float | None, action: FailureAction) -> None:
    assert after_failure(cancel_requested=cancel, retry_delay=delay) is action


@pytest.mark.parametrize(
    ("cancel", "used", "action"),
    [
        (False, 1, LostLeaseAction.REQUEUE),
        (False, 6, LostLeaseAction.REQUEUE),
        (False, 7, LostLeaseAction.FAIL_JOB),
        (True, 1, LostLeaseAction.CANCEL_JOB),
        (True, 9, LostLeaseAction.CANCEL_JOB),
    ],
)
def test_after_lost_lease(cancel: bool, used: int, action: LostLeaseAction) -> None:
    assert after_lost_lease(cancel_requested=cancel, attempts_used=used, max_attempts=7) is action


@pytest.mark.parametrize(
    ("status", "stages", "action"),
    [
        (JobStatus.QUEUED, [run("a", S.QUEUED)], CancelAction.CANCEL_NOW),
        (JobStatus.RUNNING, [run("a", S.SUCCEEDED), run("b", S.QUEUED)], CancelAction.CANCEL_NOW),
        (JobStatus.RUNNING, [run("a", S.RUNNING), run("b", S.PENDING)], CancelAction.WAIT_FOR_RUNNER),
        (JobStatus.FAILED, [run("a", S.FAILED)], CancelAction.CONFLICT),
        (JobStatus.SUCCEEDED, [run("a", S.SUCCEEDED)], CancelAction.CONFLICT),
    ],
)
def test_on_cancel_request(status: JobStatus, stages: list[StageRun], action: CancelAction) -> None:
    assert on_cancel_request(status, stages) is action


@pytest.mark.parametrize("status", list(JobStatus))
def test_only_failed_or_cancelled_jobs_may_be_retried(status: JobStatus) -> None:
    assert may_retry(status) is (status in (JobStatus.FAILED, JobStatus.CANCELLED))


# -- the graph at run time: fan-out, join, progress ---------------------------------------------------


def test_a_fan_out_creates_pending_children_with_their_params() -> None:
    parent = run("split", S.SUCCEEDED)
    children = fan_out_runs(FAN, parent, [{"from": 0}, {"from": 30}])
    assert [(c.name, c.parent, c.index, c.run, c.kind, c.params, c.status) for c in children] == [
        ("part[0]", "split", 0, "work", "transcribe", {"from": 0}, S.PENDING),
        ("part[1]", "split", 1, "work", "transcribe", {"from": 30}, S.PENDING),
    ]


def test_a_stage_that_does_not_fan_out_cannot_return_children() -> None:
    with pytest.raises(PermanentError) as caught:
        fan_out_runs(FAN, run("merge", S.SUCCEEDED), [{}])
    assert caught.value.code == "invalid_fan_out"


def test_too_many_children_are_refused() -> None:
    with pytest.raises(PermanentError) as caught:
        fan_out_runs(FAN, run("split", S.SUCCEEDED), [{}] * 11)
    assert caught.value.code == "too_many_children"


@pytest.mark.parametrize(
    ("runs", "ready"),
    [
        ([run("split", S.RUNNING), run("merge", S.PENDING), run("publish", S.PENDING)], []),
        (
            [run("split", S.SUCCEEDED), child(0, S.PENDING), child(1, S.PENDING), run("merge", S.PENDING),
             run("publish", S.PENDING)],
            ["part[0]", "part[1]"],
        ),
        (
            [run("split", S.SUCCEEDED), child(0, S.SUCCEEDED), child(1, S.RUNNING), run("merge", S.PENDING),
             run("publish", S.PENDING)],
            [],
        ),
        (
            [run("split", S.SUCCEEDED), child(0, S.SUCCEEDED), child(1, S.SUCCEEDED), run("merge", S.PENDING),
             run("publish", S.PENDING)],
            ["merge"],
        ),
        (
            [run("split", S.SUCCEEDED), child(0, S.SUCCEEDED), child(1, S.FAILED), run("merge", S.PENDING),
             run("publish", S.PENDING)],
            [],
        ),
        ([run("split", S.SUCCEEDED), run("merge", S.PENDING), run("publish", S.PENDING)], ["merge"]),
    ],
    ids=["parent-running", "children-released", "join-waits-for-the-last", "join-after-the-last",
         "failed-child-blocks", "zero-children"],
)  # fmt: skip
def test_ready_stages_with_a_fan_out(runs: list[StageRun], ready: list[str]) -> None:
    assert [r.name for r in ready_stages(FAN, runs)] == ready


def test_a_join_needs_the_children_and_a_child_only_its_parent() -> None:
    runs = [run("split", S.SUCCEEDED), child(0, S.SUCCEEDED), child(1, S.SUCCEEDED), run("merge", S.PENDING)]
    assert needs_of(FAN, runs[3], runs) == ["split", "part[0]", "part[1]"]
    assert needs_of(FAN, runs[1], runs) == ["split"]


def test_progress_counts_the_fan_out_share_by_its_children() -> None:
    # weights: split 1, children 2 (shared), merge 1, publish 0 -> total 4
    assert job_progress(FAN, [run("split", S.RUNNING, progress=50.0)]) == 12.5
    # children are created with the parent's success: none then means the fan-out had nothing to do
    assert job_progress(FAN, [run("split", S.SUCCEEDED)]) == 75.0
    halfway = [run("split", S.SUCCEEDED), child(0, S.SUCCEEDED), child(1, S.RUNNING, 50.0)]
    assert job_progress(FAN, halfway) == 62.5
    done = [
        run("split", S.SUCCEEDED),
        child(0, S.SUCCEEDED),
        run("merge", S.SUCCEEDED),
        run("publish", S.SUCCEEDED),
    ]
    assert job_progress(FAN, done) == 100.0


def test_after_success_hands_on_or_ends_the_job() -> None:
    mid = [run("split", S.SUCCEEDED), child(0, S.PENDING), run("merge", S.PENDING), run("publish", S.PENDING)]
    plan = after_success(FAN, mid, cancel_requested=False)
    assert [r.name for r in plan.ready] == ["part[0]"]
    assert plan.current_stage == "part[0]"
    assert not plan.job_succeeded
    assert after_success(FAN, mid, cancel_requested=True).cancel_job
    last = [run("split", S.SUCCEEDED), run("merge", S.SUCCEEDED), run("publish", S.SUCCEEDED)]
    assert after_success(FAN, last, cancel_requested=False).job_succeeded


def test_current_stage_prefers_what_runs() -> None:
    runs = [run("a", S.SUCCEEDED), run("b", S.QUEUED), run("c", S.RUNNING)]
    assert current_stage(runs) == "c"
    assert current_stage([run("a", S.SUCCEEDED), run("b", S.READY)]) == "b"
    assert current_stage([run("a", S.SUCCEEDED)], previous="a") == "a"


# -- declaring a graph --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stages", "problem"),
    [
        ((), "no stages"),
        ((StageSpec(name="a", code=work, kind=kinds.MEDIA), StageSpec(name="a", code=work, kind=kinds.MEDIA)),
         "twice"),
        ((StageSpec(name="a", code=work, kind=kinds.MEDIA, needs=("b",)),
          StageSpec(name="b", code=work, kind=kinds.MEDIA)), "not declared before"),
        ((StageSpec(name="Bad Name", code=work, kind=kinds.MEDIA),), "bad stage name"),
        ((StageSpec(name="a", code=work, kind=kinds.MEDIA,
                    fan_out=FanOut(child="a", code=work, kind=kinds.MEDIA)),), "twice"),
        ((StageSpec(name="a", code=work, kind=kinds.MEDIA, weight=-1),), "negative"),
    ],
    ids=["empty", "duplicate", "need-declared-later", "bad-name", "child-clashes", "negative-weight"],
)  # fmt: skip
def test_bad_graphs_are_refused_when_declared(stages: tuple[StageSpec, ...], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Pipeline(name="bad", stages=stages)


def test_a_registry_is_the_processs_own() -> None:
    registry = PipelineRegistry([FAN])
    assert registry.get_pipeline("fan") is FAN
    assert [kind.name for kind in registry.queue_kinds()] == ["media", "transcribe", "download"]
    with pytest.raises(ValueError, match="twice"):
        registry.register(FAN)
    with pytest.raises(InvalidRequest) as caught:
        registry.get_pipeline("transcribe")
    assert caught.value.code == "unknown_pipeline"
