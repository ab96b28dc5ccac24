"""The pipelines mediajobs ships, declared in one place (see graph.py for what a pipeline is)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .graph import Pipeline, PipelineRegistry, StageKind, StageSpec


class TranscribeOptions(BaseModel):
    """Options of the `transcribe` pipeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str | None = Field(
        default=None, min_length=2, max_length=8, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)?$"
    )
    vad: bool = False
    word_timestamps: bool = False


TRANSCRIBE = Pipeline(
    name="transcribe",
    description="Fetch audio or video, normalise it to 16 kHz mono WAV, transcribe it to SRT/VTT/TXT/JSON.",
    stages=(
        StageSpec(name="ingest", kind=StageKind.DOWNLOAD, weight=1.0),
        StageSpec(name="normalize", kind=StageKind.MEDIA, needs=("ingest",), weight=1.0),
        StageSpec(name="transcribe", kind=StageKind.TRANSCRIBE, needs=("normalize",), weight=6.0),
    ),
    options_model=TranscribeOptions,
    source_schemes=frozenset({"http", "https", "upload"}),
    result_artifact="transcript.json",
    meter=("normalize", "duration"),
)


def default_pipelines() -> PipelineRegistry:
    """A fresh registry of the shipped pipelines (a process may register more on its own copy)."""
    return PipelineRegistry([TRANSCRIBE])


PIPELINES = default_pipelines()
"""The shipped pipelines, for code that has no registry of its own to look in (CLI, docs)."""


def get_pipeline(name: str) -> Pipeline:
    """A shipped pipeline by name; InvalidRequest (`unknown_pipeline`) for any other name."""
    return PIPELINES.get_pipeline(name)


__all__ = ["PIPELINES", "TRANSCRIBE", "TranscribeOptions", "default_pipelines", "get_pipeline"]
