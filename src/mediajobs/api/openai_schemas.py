"""Request and response models of the OpenAI-compatible audio routes (api/routes/openai_audio.py), and
how OpenAI's names (models `whisper-1`, `tts-1`; voices `alloy`, `nova`, ...) map onto this
deployment's models, engines and voices. The routes submit ordinary `transcribe` and `synthesize`
jobs: everything here ends as those pipelines' options.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mediajobs.domain.options import MAX_PROMPT_CHARS
from mediajobs.engines.catalog import ModelCatalog

MAX_SPEECH_INPUT = 4096  # characters of `input`, OpenAI's limit

TRANSCRIBE_ALIASES = frozenset({"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"})
"""OpenAI's speech-to-text model names: all name this deployment's default model (or, for a task or
language it cannot do, the smallest installed model that can)."""

SPEECH_MODELS = {"tts-1": "espeak-ng", "tts-1-hd": "flite", "gpt-4o-mini-tts": "espeak-ng"}
"""OpenAI's text-to-speech model names -> our speech engines (which a request may also name itself)."""

SPEECH_ENGINES = ("espeak-ng", "flite")

_VOICES: dict[str, tuple[str, str]] = {
    # OpenAI's voice -> (espeak-ng voice, flite voice)
    "alloy": ("en-us", "slt"),
    "ash": ("en-us+m3", "kal"),
    "ballad": ("en-gb+m4", "awb"),
    "coral": ("en-us+f3", "slt"),
    "echo": ("en-us+m1", "awb"),
    "fable": ("en-gb+m2", "rms"),
    "onyx": ("en-us+m7", "rms"),
    "nova": ("en-us+f2", "slt"),
    "sage": ("en-us+f4", "slt"),
    "shimmer": ("en-us+f5", "slt"),
    "verse": ("en-gb+m5", "kal"),
}
OPENAI_VOICES = tuple(_VOICES)

BASE_RATE = 160  # words per minute at speed 1.0 (the synthesize pipeline's default)
MIN_RATE, MAX_RATE = 80, 450  # what the synthesize pipeline accepts


ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
Granularity = Literal["word", "segment"]
SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]


class TranscriptionForm(BaseModel):
    """The text fields of POST /v1/audio/transcriptions and /translations (the `file` part aside)."""

    model_config = ConfigDict(extra="ignore", frozen=True)  # newer OpenAI fields are ignored

    model: str = Field(
        default="whisper-1", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    )
    language: str | None = Field(
        default=None, min_length=2, max_length=8, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)?$"
    )
    prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    temperature: float = Field(default=0.0, ge=0.0, le=1.0)
    response_format: ResponseFormat = "json"
    timestamp_granularities: list[Granularity] = Field(default_factory=list, max_length=2)
    stream: bool = False


class SpeechCreate(BaseModel):
    """The JSON body of POST /v1/audio/speech."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model: str = Field(
        min_length=1,
        max_length=64,
        description=f"{', '.join(SPEECH_MODELS)} or an engine: {', '.join(SPEECH_ENGINES)}.",
    )
    input: str = Field(min_length=1, max_length=MAX_SPEECH_INPUT, description="The text to speak.")
    voice: str = Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_+-]*$",
        description=f"OpenAI's ({', '.join(OPENAI_VOICES)}) or the engine's own (`es`, `en-us+f3`, `kal`).",
    )
    response_format: SpeechFormat = "mp3"
    speed: float = Field(default=1.0, ge=0.25, le=4.0, description="1.0 is 160 words a minute.")
    instructions: str | None = Field(default=None, max_length=4096, description="Ignored.")


class OpenAIModel(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "mediajobs"


class OpenAIModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]


class Transcription(BaseModel):
    """`response_format=json`."""

    text: str


class TranscriptionWord(BaseModel):
    word: str
    start: float
    end: float


class TranscriptionSegment(BaseModel):
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: list[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


class TranscriptionVerbose(BaseModel):
    """`response_format=verbose_json`: segments unless only word timings were asked for."""

    task: Literal["transcribe", "translate"]
    language: str
    duration: float
    text: str
    segments: list[TranscriptionSegment] | None = None
    words: list[TranscriptionWord] | None = None


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str


class OpenAIError(BaseModel):
    """Every error of the /v1 routes."""

    error: OpenAIErrorDetail


def stt_model(catalog: ModelCatalog, name: str, task: str, language: str | None) -> str:
    """Our model for a request's `model`: an alias of OpenAI's names the default model, or, when the
    default cannot do this task or language, the smallest installed model that can."""
    if name not in TRANSCRIBE_ALIASES:
        return name
    default = catalog.get(None)
    base = (language or "auto").split("-", 1)[0]

    def able(info: Any) -> bool:
        return task in info.tasks and (base == "auto" or base in info.languages)

    if able(default):
        return default.name
    fits = sorted((m for m in catalog.models() if able(m)), key=lambda m: m.size)
    return fits[0].name if fits else default.name


def speech_engine(model: str) -> str | None:
    """The speech engine a request's `model` names (None: none)."""
    if model in SPEECH_ENGINES:
        return model
    return SPEECH_MODELS.get(model)


def speech_voice(engine: str, voice: str) -> tuple[str, str | None]:
    """(language, voice) options of a synthesize job for a request's `voice`: OpenAI's voices map to
    English voices of the engine; anything else is the engine's own voice (an espeak-ng voice names
    its language: `es`, `pt-br+f3`)."""
    mapped = _VOICES.get(voice.lower())
    if engine == "flite":
        return "en", mapped[1] if mapped else voice
    own = mapped[0] if mapped else voice
    return own.partition("+")[0].lower(), own


def speech_rate(speed: float) -> int:
    """Words per minute for OpenAI's `speed` (1.0: 160), within what the engines accept."""
    return max(MIN_RATE, min(MAX_RATE, round(BASE_RATE * speed)))


__all__ = [
    "MAX_SPEECH_INPUT",
    "OPENAI_VOICES",
    "SPEECH_ENGINES",
    "SPEECH_MODELS",
    "TRANSCRIBE_ALIASES",
    "OpenAIError",
    "OpenAIModel",
    "OpenAIModelList",
    "SpeechCreate",
    "Transcription",
    "TranscriptionForm",
    "TranscriptionSegment",
    "TranscriptionVerbose",
    "TranscriptionWord",
    "speech_engine",
    "speech_rate",
    "speech_voice",
    "stt_model",
]
