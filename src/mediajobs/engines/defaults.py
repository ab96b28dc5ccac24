"""The factories of the engines every deployment has (registry.py `register_shipped` registers each).

Each factory imports its implementation when a worker's stage first asks for the slot, so a process
that never runs that kind of stage (the API, a download worker) never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .http import GuardedHttp, OutboundHttp
from .speech import SpeechToText
from .synthesis import SpeechSynthesis
from .translation import Translation

if TYPE_CHECKING:
    from mediajobs.settings import Settings


def speech_to_text(settings: Settings) -> SpeechToText:
    """faster-whisper, in an engine process of its own by default (whisper.py)."""
    from .whisper import whisper_factory

    return whisper_factory(settings)()


def apertium(settings: Settings) -> Translation:
    from .apertium import Apertium

    return Apertium(memory_limit=settings.media_memory_limit)


def espeak_ng(settings: Settings) -> SpeechSynthesis:
    from .espeak import EspeakNg

    return EspeakNg(memory_limit=settings.media_memory_limit)


def flite(settings: Settings) -> SpeechSynthesis:
    from .flite import Flite

    return Flite(memory_limit=settings.media_memory_limit)


def outbound_http(settings: Settings) -> OutboundHttp:
    return GuardedHttp(allow_private=settings.allow_private_sources)


__all__ = ["apertium", "espeak_ng", "flite", "outbound_http", "speech_to_text"]
