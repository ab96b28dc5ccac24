"""Which runs a re-run from a stage reuses (domain/rerun.py), on the tests' diamond and fan-out."""

from __future__ import annotations

import uuid

import pytest

from helpers.graphs import DIAMOND, FAN, record
from mediajobs.domain import Pipeline, StageRun, StageSpec, StageStatus
from mediajobs.domain.rerun import ancestors, plan_rerun
from mediajobs.errors import Conflict, InvalidRequest
from mediajobs.pipelines import kinds

JOB = uuid.uuid4()


def _run(name: str, status: StageStatus = StageStatus.SUCCEEDED, parent: str | None = None) -> StageRun:
    return StageRun(job_id=JOB, name=name, kind="media", status=status, parent=parent, output={"n": name})


def test_the_stages_before_are_every_ancestor_and_nothing_else() -> None:
    assert ancestors(DIAMOND, "d") == {"a", "b", "c"}
    assert ancestors(DIAMOND, "b") == {"a"}
    runs = [_run("a"), _run("b"), _run("c", StageStatus.FAILED), _run("d", StageStatus.PENDING)]
    assert [r.name for r in plan_rerun(DIAMOND, runs, "b").reused] == ["a"]
    assert plan_rerun(DIAMOND, runs, "a").reused == ()


def test_children_run_again_when_their_join_does_and_are_reused_when_a_stage_before_joins_them() -> None:
    runs = [_run("split"), _run("join", StageStatus.FAILED), _run("work[0]", parent="split")]
    runs.append(_run("work[1]", parent="split"))
    again = plan_rerun(FAN, runs, "join")
    assert [r.name for r in again.reused] == ["split"]
    assert [r.name for r in again.redo] == ["work[0]", "work[1]"]
    later = Pipeline(
        name="later",
        stages=(*FAN.stages, StageSpec(name="after", code=record, kind=kinds.MEDIA, needs=("join",))),
    )
    runs.append(_run("after", StageStatus.FAILED))
    runs[1] = _run("join")
    kept = plan_rerun(later, runs, "after")
    assert [r.name for r in kept.reused] == ["split", "join", "work[0]", "work[1]"]
    assert kept.redo == ()


def test_unknown_stages_and_unfinished_earlier_stages_are_refused() -> None:
    runs = [_run("a"), _run("b", StageStatus.FAILED), _run("c"), _run("d", StageStatus.PENDING)]
    with pytest.raises(InvalidRequest) as unknown:
        plan_rerun(DIAMOND, runs, "work[0]")
    assert unknown.value.code == "unknown_stage"
    with pytest.raises(Conflict) as unfinished:
        plan_rerun(DIAMOND, runs, "d")
    assert unfinished.value.code == "stage_not_finished"
    assert "b" in unfinished.value.message
    fan = [_run("split", StageStatus.FAILED), _run("work[0]", StageStatus.FAILED, parent="split")]
    with pytest.raises(Conflict):
        plan_rerun(FAN, fan, "join")
    assert plan_rerun(FAN, [_run("split"), _run("work[0]", StageStatus.FAILED, parent="split")], "join").redo
