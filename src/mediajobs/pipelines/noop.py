"""`noop` and `noop3`: stages that do no media work, to measure the whole path of a job (load tests,
benchmarks). Registered only with MEDIAJOBS_NOOP_PIPELINES."""

from __future__ import annotations

from mediajobs.domain import Pipeline, StageSpec
from mediajobs.domain.options import NoopOptions

from . import code, kinds

_SOURCES = frozenset({"noop", "http", "https"})

NOOP = Pipeline(
    name="noop",
    description="One stage that does no media work: the whole path of a job, for load tests and benchmarks.",
    stages=(StageSpec(name="noop", kind=kinds.MEDIA, code=code.noop),),
    options_model=NoopOptions,
    source_schemes=_SOURCES,
)

NOOP3 = Pipeline(
    name="noop3",
    description="Three chained stages that do no media work (download, media and transcribe queues).",
    stages=(
        StageSpec(name="first", kind=kinds.DOWNLOAD, code=code.noop),
        StageSpec(name="second", kind=kinds.MEDIA, code=code.noop, needs=("first",)),
        StageSpec(name="third", kind=kinds.TRANSCRIBE, code=code.noop, needs=("second",)),
    ),
    options_model=NoopOptions,
    source_schemes=_SOURCES,
)

__all__ = ["NOOP", "NOOP3"]
