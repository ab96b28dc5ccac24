"""The pipelines mediajobs ships, declared in one place (see graph.py for what a pipeline is)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .graph import FanOut, Pipeline, PipelineRegistry, StageKind, StageSpec

_MEDIA_SOURCES = frozenset({"http", "https", "upload", "job"})  # job://: a synthesize or dub result


class TranscribeOptions(BaseModel):
    """Options of the `transcribe` pipeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="An installed model (GET /api/v1/models); none: the deployment's default (tiny.en).",
    )
    language: str = Field(
        default="auto",
        min_length=2,
        max_length=8,
        pattern=r"^(auto|[a-z]{2,3}(-[A-Za-z0-9]+)?)$",
        description="`auto` detects it (the result says which, and how sure); or a code such as `es`.",
    )
    task: Literal["transcribe", "translate"] = Field(
        default="transcribe", description="`translate`: speech in any language to English text."
    )
    vad: bool = False
    word_timestamps: bool = Field(default=False, description="Include each word's timing in the JSON.")
    max_line_chars: int = Field(
        default=42, ge=10, le=200, description="Longest subtitle line, in characters."
    )
    max_lines: int = Field(default=2, ge=1, le=4, description="Most lines in one subtitle cue.")
    max_cue_seconds: float = Field(default=7.0, ge=1.0, le=30.0, description="Longest a cue stays on screen.")

    @field_validator("language", mode="before")
    @classmethod
    def _none_is_auto(cls, value: object) -> object:
        return "auto" if value is None else value  # jobs stored before `auto` said null


TRANSCRIBE = Pipeline(
    name="transcribe",
    description=(
        "Fetch audio or video, normalise it to 16 kHz mono WAV, transcribe it to SRT/VTT/TXT/JSON "
        "(long audio in chunks, in parallel)."
    ),
    stages=(
        StageSpec(name="ingest", kind=StageKind.DOWNLOAD, weight=1.0),
        # Long audio is cut at silences here into `chunk[i]` runs on the transcribe queue (any worker
        # may take each); `transcribe` then merges them. Short audio makes no chunks: `transcribe`
        # transcribes it whole.
        StageSpec(
            name="normalize",
            run="normalize_split",
            kind=StageKind.MEDIA,
            needs=("ingest",),
            weight=1.0,
            fan_out=FanOut(
                child="chunk",
                run="transcribe_chunk",
                kind=StageKind.TRANSCRIBE,
                weight=5.5,
                share_of="transcribe",
            ),
        ),
        StageSpec(
            name="transcribe",
            run="transcribe_merge",
            kind=StageKind.TRANSCRIBE,
            needs=("normalize",),
            weight=6.0,
        ),
    ),
    options_model=TranscribeOptions,
    source_schemes=_MEDIA_SOURCES,
    result_artifact="transcript.json",
    meter=("normalize", "duration"),
)


_LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]+)?$"
_TEXT_SOURCES = frozenset({"upload", "job"})  # a `text` field is stored as an upload


class TranslateOptions(BaseModel):
    """Options of the `translate` pipeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target_language: str = Field(min_length=2, max_length=8, pattern=_LANGUAGE)
    source_language: str | None = Field(
        default=None,
        min_length=2,
        max_length=8,
        pattern=_LANGUAGE,
        description="Default: the language the input job detected; required for other inputs.",
    )
    bilingual: bool = Field(
        default=False, description="Also subtitles with the original and the translation."
    )


TRANSLATE = Pipeline(
    name="translate",
    description="Translate a finished job's transcript, a text, or an uploaded .srt/.vtt/.txt "
    "(same cues, same timings).",
    stages=(
        StageSpec(name="read_text", kind=StageKind.DOWNLOAD, weight=1.0),
        StageSpec(name="translate", kind=StageKind.TRANSLATE, needs=("read_text",), weight=4.0),
    ),
    options_model=TranslateOptions,
    source_schemes=_TEXT_SOURCES,
    result_artifact="translation.json",
)


class SynthesizeOptions(BaseModel):
    """Options of the `synthesize` pipeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str = Field(default="en", min_length=2, max_length=12, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9-]+)?$")
    voice: str | None = Field(
        default=None,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_+-]*$",
        description="An espeak-ng voice or variant (e.g. `en-us`, `es`, `en+f3`); default: the language's.",
    )
    rate: int = Field(default=160, ge=80, le=450, description="Words per minute.")
    pitch: int = Field(default=50, ge=0, le=99, description="espeak-ng only.")
    format: Literal["wav", "mp3", "opus"] = "wav"
    engine: Literal["espeak-ng", "flite"] = Field(
        default="espeak-ng", description="`flite`: English only, clearer voices (kal, awb, rms, slt)."
    )


SYNTHESIZE = Pipeline(
    name="synthesize",
    description="Speak a text, a finished job's transcript or translation, or an uploaded .txt/.srt/.vtt.",
    stages=(
        StageSpec(name="read_text", kind=StageKind.DOWNLOAD, weight=1.0),
        StageSpec(name="synthesize", kind=StageKind.SYNTHESIZE, needs=("read_text",), weight=4.0),
    ),
    options_model=SynthesizeOptions,
    source_schemes=_TEXT_SOURCES,
    result_artifact="speech.{format}",
)


class DubOptions(TranscribeOptions):
    """Options of the `dub` pipeline: the transcribe options, and what to dub into and how."""

    target_language: str = Field(min_length=2, max_length=8, pattern=_LANGUAGE)
    mix: Literal["replace", "duck"] = Field(
        default="replace", description="`replace` the original sound, or `duck` it under the new voice."
    )
    rate: int = Field(default=170, ge=80, le=450, description="Words per minute of the new voice.")


DUB = Pipeline(
    name="dub",
    description="Audio or video in another language: transcribe, translate, speak each cue in its time "
    "slot, mix; video keeps its video stream as it was.",
    stages=(
        StageSpec(name="ingest", kind=StageKind.DOWNLOAD, weight=1.0),
        StageSpec(name="normalize", kind=StageKind.MEDIA, needs=("ingest",), weight=1.0),
        StageSpec(name="transcribe", kind=StageKind.TRANSCRIBE, needs=("normalize",), weight=6.0),
        StageSpec(name="translate", kind=StageKind.TRANSLATE, needs=("transcribe",), weight=1.0),
        StageSpec(
            name="voice",
            run="dub_voice",
            kind=StageKind.SYNTHESIZE,
            needs=("normalize", "translate"),
            weight=2.0,
        ),
        StageSpec(name="mix", kind=StageKind.MEDIA, needs=("ingest", "normalize", "voice"), weight=1.0),
    ),
    options_model=DubOptions,
    source_schemes=_MEDIA_SOURCES,
    result_artifact="dub.json",
    meter=("normalize", "duration"),
)


class NoopOptions(BaseModel):
    """Options of the measurement pipelines."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    work_seconds: float = Field(default=0.0, ge=0, le=60, description="How long each stage pretends to work.")


_NOOP_SOURCES = frozenset({"noop", "http", "https"})

NOOP = Pipeline(
    name="noop",
    description="One stage that does no media work: the whole path of a job, for load tests and benchmarks.",
    stages=(StageSpec(name="noop", kind=StageKind.MEDIA),),
    options_model=NoopOptions,
    source_schemes=_NOOP_SOURCES,
)

NOOP3 = Pipeline(
    name="noop3",
    description="Three chained stages that do no media work (download, media and transcribe queues).",
    stages=(
        StageSpec(name="first", run="noop", kind=StageKind.DOWNLOAD),
        StageSpec(name="second", run="noop", kind=StageKind.MEDIA, needs=("first",)),
        StageSpec(name="third", run="noop", kind=StageKind.TRANSCRIBE, needs=("second",)),
    ),
    options_model=NoopOptions,
    source_schemes=_NOOP_SOURCES,
)


def default_pipelines(*, noop: bool = False) -> PipelineRegistry:
    """A fresh registry of the shipped pipelines (a process may register more on its own copy).
    `noop`: also the measurement pipelines (`MEDIAJOBS_NOOP_PIPELINES`), off by default."""
    shipped = [TRANSCRIBE, TRANSLATE, SYNTHESIZE, DUB]
    return PipelineRegistry([*shipped, NOOP, NOOP3] if noop else shipped)


PIPELINES = default_pipelines()
"""The shipped pipelines, for code that has no registry of its own to look in (CLI, docs)."""


def get_pipeline(name: str) -> Pipeline:
    """A shipped pipeline by name; InvalidRequest (`unknown_pipeline`) for any other name."""
    return PIPELINES.get_pipeline(name)


__all__ = [
    "DUB",
    "NOOP",
    "NOOP3",
    "PIPELINES",
    "SYNTHESIZE",
    "TRANSCRIBE",
    "TRANSLATE",
    "DubOptions",
    "NoopOptions",
    "SynthesizeOptions",
    "TranscribeOptions",
    "TranslateOptions",
    "default_pipelines",
    "get_pipeline",
]
