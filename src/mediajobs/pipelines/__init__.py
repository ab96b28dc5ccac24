"""The pipelines mediajobs ships, one module each (transcribe, translate, synthesize, dub, video, noop).

Each module declares its `PIPELINE`: the stage graph with each stage's code and queue kind, the
options model, the check run at submit, the sources and file types it accepts, its result. The
registry (registry.py) registers them; a deployment adds its own with a plug-in (docs/plugins.md).
"""

from __future__ import annotations

from mediajobs.domain import Pipeline, PipelineRegistry

from . import dub, synthesize, transcribe, translate, video
from .noop import NOOP, NOOP3

SHIPPED: tuple[Pipeline, ...] = (
    transcribe.PIPELINE,
    translate.PIPELINE,
    synthesize.PIPELINE,
    dub.PIPELINE,
    video.PIPELINE,
)
"""The pipelines every deployment has."""

MEASUREMENT: tuple[Pipeline, ...] = (NOOP, NOOP3)
"""Pipelines that do no media work, for load tests (MEDIAJOBS_NOOP_PIPELINES)."""


def shipped_pipelines(*, noop: bool = False) -> PipelineRegistry:
    """A fresh registry of the shipped pipelines (and with `noop`, the measurement ones)."""
    return PipelineRegistry([*SHIPPED, *MEASUREMENT] if noop else SHIPPED)


def get_pipeline(name: str) -> Pipeline:
    """A shipped (or measurement) pipeline by name; InvalidRequest (`unknown_pipeline`) otherwise."""
    return shipped_pipelines(noop=True).get_pipeline(name)


__all__ = ["MEASUREMENT", "SHIPPED", "get_pipeline", "shipped_pipelines"]
