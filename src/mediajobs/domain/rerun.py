"""Re-running a job from one of its stages: which finished stage runs the new job reuses.

`POST /jobs/{id}/rerun {"from_stage": S}` makes a new job of the same pipeline and source. Every stage
S depends on (directly or through others) is *reused*: its committed output (checkpoint), and for a
fan-out parent its children too, are copied into the new job as succeeded runs, so they never run
again. S and every other stage run anew. A fan-out's children are reused only when a stage before S joins
them; when S itself is their join (re-running `transcribe` of a chunked job), they run again too,
from the parameters their parent gave them. Nothing here touches a database or storage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mediajobs.errors import Conflict, InvalidRequest

from .graph import Pipeline
from .models import StageRun, StageStatus


@dataclass(frozen=True, kw_only=True, slots=True)
class RerunPlan:
    from_stage: str
    reused: tuple[StageRun, ...]  # the old job's runs to copy, declared stages and their children
    redo: tuple[StageRun, ...] = ()  # children of a reused fan-out that S joins: created again, pending


def ancestors(pipeline: Pipeline, stage: str) -> set[str]:
    """Every declared stage `stage` needs, directly or through others."""
    seen: set[str] = set()
    todo = list(pipeline.spec(stage).needs)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(pipeline.spec(name).needs)
    return seen


def plan_rerun(pipeline: Pipeline, runs: Iterable[StageRun], from_stage: str) -> RerunPlan:
    """The runs a re-run from `from_stage` reuses; InvalidRequest for a stage the pipeline does not
    declare, Conflict when one of the stages before it has not succeeded in the old job."""
    declared = [s.name for s in pipeline.stages]
    if from_stage not in declared:
        raise InvalidRequest(
            f"pipeline {pipeline.name!r} has no stage {from_stage[:64]!r}; its stages: {', '.join(declared)}",
            code="unknown_stage",
        )
    before = ancestors(pipeline, from_stage)
    joined_before = {need for name in before for need in pipeline.spec(name).needs}
    all_runs = list(runs)
    reused = [r for r in all_runs if r.name in before or (r.parent in before and r.parent in joined_before)]
    redo = [r for r in all_runs if r.parent in before and r.parent not in joined_before]
    unfinished = sorted(r.name for r in reused if r.status is not StageStatus.SUCCEEDED)
    missing = sorted(before - {r.name for r in reused})
    if unfinished or missing:
        raise Conflict(
            f"cannot re-run from {from_stage!r}: stage(s) {', '.join(missing + unfinished)} before it "
            "did not finish in this job",
            code="stage_not_finished",
        )
    return RerunPlan(from_stage=from_stage, reused=tuple(reused), redo=tuple(redo))


__all__ = ["RerunPlan", "ancestors", "plan_rerun"]
