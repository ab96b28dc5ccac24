"""Engines behind small interfaces; `Engines` is what a worker process hands to its stages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .base import Segment, SegmentCallback, SpeechToText, StopCheck, TranscribeRequest, Transcript, Word


@dataclass(kw_only=True)
class Engines:
    """Engines of one worker process, each built on first use and then kept (models load once)."""

    speech_to_text_factory: Callable[[], SpeechToText]
    _stt: SpeechToText | None = field(default=None, init=False, repr=False)

    def speech_to_text(self) -> SpeechToText:
        if self._stt is None:
            self._stt = self.speech_to_text_factory()
        return self._stt


__all__ = [
    "Engines",
    "Segment",
    "SegmentCallback",
    "SpeechToText",
    "StopCheck",
    "TranscribeRequest",
    "Transcript",
    "Word",
]
