"""The speech-to-text engine port: timed text out of 16 kHz mono audio."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .registry import Slot


@dataclass(frozen=True, kw_only=True, slots=True)
class Word:
    start: float
    end: float
    word: str
    probability: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class SegmentDetails:
    """How the decoder produced a segment (what OpenAI's verbose_json reports for each segment)."""

    seek: int  # the decoding window's start, in mel frames (100 a second)
    tokens: tuple[int, ...]
    temperature: float  # the sampling temperature this segment was finally decoded at
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Segment:
    start: float  # seconds from the start of the audio
    end: float
    text: str
    words: tuple[Word, ...] = ()
    details: SegmentDetails | None = None  # None: the engine does not report them


@dataclass(frozen=True, kw_only=True, slots=True)
class Transcript:
    language: str
    duration: float  # seconds of audio
    language_probability: float | None = None  # how sure the detection was (None: the language was given)
    segments: tuple[Segment, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


@dataclass(frozen=True, kw_only=True, slots=True)
class TranscribeRequest:
    audio: Path  # 16 kHz mono WAV
    language: str | None = None  # None: detect
    model: Path | None = None  # the model folder (None: the engine's default model)
    task: str = "transcribe"  # or "translate": speech in any language to English text
    vad: bool = False
    word_timestamps: bool = False
    prompt: str | None = None  # text that comes before the audio (names, spelling, style)
    temperature: float | None = None  # None or 0: the engine's fallback from 0 up; else from this one up


SegmentCallback = Callable[[Segment], None]
"""Called for each decoded segment as it is produced; may raise to stop the engine (cancellation)."""

StopCheck = Callable[[], None]
"""Called often (about every 0.1 s) while an engine works, even between segments; raises to stop it."""


class SpeechToText(Protocol):
    """Turns speech into timed text."""

    name: str

    def transcribe(
        self,
        request: TranscribeRequest,
        on_segment: SegmentCallback | None = None,
        check: StopCheck | None = None,
    ) -> Transcript: ...


SPEECH_TO_TEXT: Slot[SpeechToText] = Slot("speech_to_text")
"""The registry slot of the worker's speech-to-text engine."""
