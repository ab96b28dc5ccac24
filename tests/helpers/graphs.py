"""Pipelines of the tests' own, to run stage graphs (a diamond, a fan-out) through the real store,
runner and Celery workers. Their stages do no media work: they wait a little, fail on request, and
report what they were given, so the tests can check who ran when, with what, and how often.

A plug-in like any deployment's (`MEDIAJOBS_PLUGINS=helpers.graphs`, with tests/ on the path): the
workers of the acceptance tests load it that way; unit tests use `graph_pipelines()`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from mediajobs.domain import FanOut, Pipeline, PipelineRegistry, StageSpec
from mediajobs.errors import PermanentError, RetryableError
from mediajobs.pipelines import kinds, shipped_pipelines
from mediajobs.registry import Registry
from mediajobs.stages.base import StageContext, StageResult

SOURCE = "https://example.com/graph-test"


class GraphOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    children: int = Field(default=0, ge=0, le=1000)  # how many children the fan-out stage makes
    work_seconds: float = Field(default=0.0, ge=0, le=60)  # how long each stage or child works
    fail_children: list[int] = Field(default_factory=list)  # children whose first attempt fails
    fail_stages: list[str] = Field(default_factory=list)  # stages whose first attempt fails


def _options(ctx: StageContext) -> GraphOptions:
    return GraphOptions.model_validate(ctx.options)


def _work(ctx: StageContext, options: GraphOptions) -> None:
    if options.work_seconds:
        ctx.progress.report(10.0, "working")
        ctx.cancel.wait(options.work_seconds)  # stands for real work; a cancel ends it early
    ctx.cancel.raise_if_set()


def record(ctx: StageContext) -> StageResult:
    options = _options(ctx)
    _work(ctx, options)
    if ctx.stage in options.fail_stages and ctx.attempt == 1:
        raise RetryableError(f"stage {ctx.stage} fails its first attempt on purpose", code="scripted")
    return StageResult(output={"stage": ctx.stage, "saw": sorted(ctx.inputs)})


def split(ctx: StageContext) -> StageResult:
    options = _options(ctx)
    return StageResult(
        output={"children": options.children}, children=[{"index": i} for i in range(options.children)]
    )


def work(ctx: StageContext) -> StageResult:
    options = _options(ctx)
    index = int(ctx.params["index"])
    _work(ctx, options)
    if index in options.fail_children and ctx.attempt == 1:
        raise RetryableError(f"child {index} fails its first attempt on purpose", code="scripted")
    return StageResult(output={"index": index, "square": index * index, "parent": sorted(ctx.inputs)})


def join(ctx: StageContext) -> StageResult:
    expected = int(ctx.inputs["split"]["children"])
    children = [v for k, v in ctx.inputs.items() if k.startswith("work[")]
    indexes = sorted(int(c["index"]) for c in children)
    if indexes != list(range(expected)):
        raise PermanentError(f"join saw children {indexes}, expected 0..{expected - 1}", code="bad_join")
    return StageResult(output={"count": len(children), "sum": sum(int(c["square"]) for c in children)})


DIAMOND = Pipeline(
    name="diamond",
    stages=(
        StageSpec(name="a", code=record, kind=kinds.MEDIA),
        StageSpec(name="b", code=record, kind=kinds.MEDIA, needs=("a",)),
        StageSpec(name="c", code=record, kind=kinds.TRANSCRIBE, needs=("a",)),
        StageSpec(name="d", code=record, kind=kinds.MEDIA, needs=("b", "c")),
    ),
    options_model=GraphOptions,
    source_schemes=frozenset({"https"}),
)

FAN = Pipeline(
    name="fan",
    stages=(
        StageSpec(
            name="split",
            code=split,
            kind=kinds.MEDIA,
            fan_out=FanOut(child="work", code=work, kind=kinds.TRANSCRIBE, weight=8.0),
        ),
        StageSpec(name="join", code=join, kind=kinds.MEDIA, needs=("split",)),
    ),
    options_model=GraphOptions,
    source_schemes=frozenset({"https"}),
)


def graph_pipelines() -> PipelineRegistry:
    """The shipped pipelines and the tests' own."""
    registry = shipped_pipelines()
    registry.register(DIAMOND)
    registry.register(FAN)
    return registry


def register(registry: Registry) -> None:
    """The plug-in's entry point (MEDIAJOBS_PLUGINS)."""
    registry.add_pipeline(DIAMOND)
    registry.add_pipeline(FAN)
