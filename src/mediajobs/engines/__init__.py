"""Engines behind small ports, in a registry of lazily built slots (see registry.py)."""

from __future__ import annotations

from .registry import Engines, EngineUnavailable, Slot
from .speech import (
    SPEECH_TO_TEXT,
    Segment,
    SegmentCallback,
    SegmentDetails,
    SpeechToText,
    StopCheck,
    TranscribeRequest,
    Transcript,
    Word,
)

__all__ = [
    "SPEECH_TO_TEXT",
    "EngineUnavailable",
    "Engines",
    "Segment",
    "SegmentCallback",
    "SegmentDetails",
    "Slot",
    "SpeechToText",
    "StopCheck",
    "TranscribeRequest",
    "Transcript",
    "Word",
]
