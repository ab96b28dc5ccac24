"""Stage implementations, one module each, looked up by the `run` key a pipeline's stage declares."""

from __future__ import annotations

from types import MappingProxyType

from .base import ArtifactFile, CancelToken, NullProgress, ProgressSink, StageContext, StageFn, StageResult
from .chunk import transcribe_chunk
from .dub_voice import dub_voice
from .ingest import ingest
from .merge import transcribe_or_merge
from .mix import mix
from .noop import noop
from .normalize import normalize
from .read_text import read_text
from .split import normalize_and_split
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
        # long media in parallel: the transcribe pipeline cuts long audio and merges the chunks
        "normalize_split": normalize_and_split,
        "transcribe_chunk": transcribe_chunk,
        "transcribe_merge": transcribe_or_merge,
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
