"""Stage implementations, one module each, looked up by the stage name a pipeline declares."""

from __future__ import annotations

from .base import ArtifactFile, CancelToken, NullProgress, ProgressSink, StageContext, StageFn, StageResult
from .ingest import ingest
from .normalize import normalize
from .transcribe import transcribe

STAGES: dict[str, StageFn] = {
    "ingest": ingest,
    "normalize": normalize,
    "transcribe": transcribe,
}


def get_stage(name: str) -> StageFn:
    return STAGES[name]


__all__ = [
    "STAGES",
    "ArtifactFile",
    "CancelToken",
    "NullProgress",
    "ProgressSink",
    "StageContext",
    "StageFn",
    "StageResult",
    "get_stage",
]
