"""The options models of the shipped pipelines: what a submit of each may say.

Pure data, here rather than beside each pipeline (pipelines/) because the stage code that reads the
options and the pipeline that declares them both import them, and neither may import the other."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mediajobs.errors import InvalidRequest

MAX_PROMPT_CHARS = 2000


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
    prompt: str | None = Field(
        default=None,
        max_length=MAX_PROMPT_CHARS,
        description="Text that comes before the audio: names, spellings, a style to follow (Whisper "
        "keeps its last 223 tokens).",
    )
    temperature: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Sampling temperature to decode at first; none or 0: greedy, raised by 0.2 up to 1.0 "
        "for a window whose text is too repetitive or too unsure (from this value up when given).",
    )
    segment_details: bool = Field(
        default=False,
        description="Include each segment's decoding details in the JSON (seek, tokens, temperature, "
        "avg_logprob, compression_ratio, no_speech_prob).",
    )
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


class VoiceOptions(BaseModel):
    """How a text is spoken: the voice options of `synthesize`, shared by `video`'s narration."""

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
    engine: Literal["espeak-ng", "flite"] = Field(
        default="espeak-ng", description="`flite`: English only, clearer voices (kal, awb, rms, slt)."
    )


class SynthesizeOptions(VoiceOptions):
    """Options of the `synthesize` pipeline."""

    format: Literal["wav", "mp3", "opus", "aac", "flac", "pcm"] = Field(
        default="wav",
        description="`pcm`: raw 24 kHz 16-bit signed little-endian mono samples, no header; `aac`: ADTS.",
    )


class DubOptions(TranscribeOptions):
    """Options of the `dub` pipeline: the transcribe options, and what to dub into and how."""

    target_language: str = Field(min_length=2, max_length=8, pattern=_LANGUAGE)
    mix: Literal["replace", "duck"] = Field(
        default="replace", description="`replace` the original sound, or `duck` it under the new voice."
    )
    rate: int = Field(default=170, ge=80, le=450, description="Words per minute of the new voice.")


MAX_SCENES = 200
UPLOAD_ID = r"^upload://[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
VIDEO_SIZES = {"1280x720": (1280, 720), "1920x1080": (1920, 1080), "720x1280": (720, 1280)}


class VideoScene(BaseModel):
    """One scene of a video: a card (or the user's image) shown while its text is narrated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(
        min_length=1,
        max_length=2000,
        pattern=r"\S",
        description="What the narrator says; also the card's text and the scene's subtitles.",
    )
    title: str | None = Field(default=None, max_length=120, description="Drawn large above the text.")
    image: str | None = Field(
        default=None,
        pattern=UPLOAD_ID,
        description="`upload://<id>` of your PNG, JPEG or WebP image, shown instead of the drawn card "
        "(scaled and padded to the frame).",
    )
    duration: float | None = Field(
        default=None,
        ge=0.5,
        le=600,
        description="Least seconds on screen; default (and at least): the narration's length plus the pad.",
    )


class VideoOptions(VoiceOptions):
    """Options of the `video` pipeline: the scenes (or a text, one scene per paragraph), the frame,
    the narrator's voice, and where to publish the result."""

    scenes: list[VideoScene] = Field(
        default_factory=list,
        max_length=MAX_SCENES,
        description=f"At most {MAX_SCENES} scenes; give them here or send `text` (one scene per paragraph).",
    )
    title: str | None = Field(
        default=None, max_length=120, description="The thumbnail's title; default: the first scene's title."
    )
    size: Literal["1280x720", "1920x1080", "720x1280"] = Field(
        default="1280x720", description="Width x height; `720x1280` is vertical."
    )
    fps: int = Field(default=25, ge=1, le=60, description="Frames per second.")
    pad_seconds: float = Field(
        default=0.5, ge=0, le=5, description="Silence after each scene's narration before the next scene."
    )
    publish_dir: str | None = Field(
        default=None,
        max_length=1024,
        description="One of the folders the operator allows (MEDIAJOBS_PUBLISH_DIRS): the video, thumbnail "
        "and video.json are copied to `<publish_dir>/<job id>/`.",
    )
    publish_url: str | None = Field(
        default=None,
        max_length=2048,
        description="An HTTPS endpoint that receives a multipart POST (video, thumbnail, manifest) signed "
        "with your `webhook_secret` (Standard Webhooks); retried on 5xx, 429 and timeouts.",
    )

    @property
    def frame(self) -> tuple[int, int]:
        return VIDEO_SIZES[self.size]


_PARAGRAPH = re.compile(r"\n\s*\n")


def paragraphs(text: str) -> list[str]:
    """A text's paragraphs (blank-line separated), each on one line; empty ones dropped."""
    return [" ".join(p.split()) for p in _PARAGRAPH.split(text) if p.strip()]


def scenes_of_text(text: str) -> list[VideoScene]:
    """A video script given as text: one scene per paragraph. InvalidRequest naming the scene (its
    index, as in `scenes`) and the field when one is not acceptable."""
    found = paragraphs(text)
    if not found:
        raise InvalidRequest("the text has no paragraph to make a scene of", code="empty_text")
    if len(found) > MAX_SCENES:
        raise InvalidRequest(
            f"the text has {len(found)} paragraphs; a video has at most {MAX_SCENES} scenes",
            code="invalid_options",
        )
    scenes = []
    for index, paragraph in enumerate(found):
        try:
            scenes.append(VideoScene(text=paragraph))
        except ValidationError as exc:
            problem = exc.errors()[0]
            raise InvalidRequest(
                f"scenes.{index}.text (paragraph {index + 1} of the text): {problem['msg']}",
                code="invalid_options",
            ) from None
    return scenes


class NoopOptions(BaseModel):
    """Options of the measurement pipelines."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    work_seconds: float = Field(default=0.0, ge=0, le=60, description="How long each stage pretends to work.")


__all__ = [
    "MAX_PROMPT_CHARS",
    "MAX_SCENES",
    "VIDEO_SIZES",
    "DubOptions",
    "NoopOptions",
    "SynthesizeOptions",
    "TranscribeOptions",
    "TranslateOptions",
    "VideoOptions",
    "VideoScene",
    "VoiceOptions",
    "paragraphs",
    "scenes_of_text",
]
