"""Stage implementations, one module each, looked up by the `run` key a pipeline's stage declares."""

from __future__ import annotations

from types import MappingProxyType

from .base import ArtifactFile, CancelToken, NullProgress, ProgressSink, StageContext, StageFn, StageResult
from .dub_voice import dub_voice
from .ingest import ingest
from .mix import mix
from .noop import noop
from .normalize import normalize
from .read_text import read_text
from .synthesize import synthesize
from .transcribe import transcribe
from .translate import translate

STAGES = MappingProxyType(
    {
        "dub_voice": dub_voice,
        "ingest": ingest,
        "mix": mix,
        "normalize": normalize,
        "noop": noop,
        "read_text": read_text,
        "synthesize": synthesize,
        "transcribe": transcribe,
        "translate": translate,
    }
)
"""The shipped stage code by run key."""


def default_stages() -> dict[str, StageFn]:
    """A fresh mapping of the shipped stage code, for a process to extend with its own."""
    return dict(STAGES)


__all__ = [
    "STAGES",
    "ArtifactFile",
    "CancelToken",
    "NullProgress",
    "ProgressSink",
    "StageContext",
    "StageFn",
    "StageResult",
    "default_stages",
]
