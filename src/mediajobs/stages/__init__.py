"""Stage implementations, one module each; a pipeline names each stage's function in its graph
(pipelines/). This package's face holds only what a stage is given and returns (base.py), so that
importing it loads no stage code."""

from __future__ import annotations

from .base import ArtifactFile, CancelToken, NullProgress, ProgressSink, StageContext, StageFn, StageResult

__all__ = [
    "ArtifactFile",
    "CancelToken",
    "NullProgress",
    "ProgressSink",
    "StageContext",
    "StageFn",
    "StageResult",
]
