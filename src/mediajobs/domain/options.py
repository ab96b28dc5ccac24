"""The options models of the shipped pipelines: what a submit of each may say.

Pure data, here rather than beside each pipeline (pipelines/) because the stage code that reads the
options and the pipeline that declares them both import them, and neither may import the other."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


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


_LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]+)?$"


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
    max_line_chars: int | None = Field(
        default=None,
        ge=10,
        le=200,
        description="Longest subtitle line, in characters; default: the input job's, else 42.",
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


class DubOptions(TranscribeOptions):
    """Options of the `dub` pipeline: the transcribe options, and what to dub into and how."""

    target_language: str = Field(min_length=2, max_length=8, pattern=_LANGUAGE)
    mix: Literal["replace", "duck"] = Field(
        default="replace", description="`replace` the original sound, or `duck` it under the new voice."
    )
    rate: int = Field(default=170, ge=80, le=450, description="Words per minute of the new voice.")


class NoopOptions(BaseModel):
    """Options of the measurement pipelines."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    work_seconds: float = Field(default=0.0, ge=0, le=60, description="How long each stage pretends to work.")


__all__ = ["DubOptions", "NoopOptions", "SynthesizeOptions", "TranscribeOptions", "TranslateOptions"]
