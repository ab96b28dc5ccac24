"""The engines every deployment has, registered on the registry: the one place shipped engines are named.

Each factory imports its implementation when a worker's stage first asks for the slot, so a process
that never runs that kind of stage (the API, a download worker) never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .http import OUTBOUND_HTTP, GuardedHttp, OutboundHttp
from .speech import SPEECH_TO_TEXT, SpeechToText
from .synthesis import SpeechSynthesis, synthesis_slot
from .translation import TRANSLATION, Translation

if TYPE_CHECKING:
    from mediajobs.registry import Registry
    from mediajobs.settings import Settings


def speech_to_text(settings: Settings) -> SpeechToText:
    """faster-whisper, in an engine process of its own by default (whisper.py)."""
    from .whisper import whisper_factory

    return whisper_factory(settings)()


def apertium(settings: Settings) -> Translation:
    from .apertium import Apertium

    return Apertium()


def espeak_ng(settings: Settings) -> SpeechSynthesis:
    from .espeak import EspeakNg

    return EspeakNg()


def flite(settings: Settings) -> SpeechSynthesis:
    from .flite import Flite

    return Flite()


def outbound_http(settings: Settings) -> OutboundHttp:
    return GuardedHttp(allow_private=settings.allow_private_sources)


def register_engines(registry: Registry) -> None:
    registry.add_engine(SPEECH_TO_TEXT, speech_to_text)
    registry.add_engine(TRANSLATION, apertium)
    registry.add_engine(synthesis_slot("espeak-ng"), espeak_ng)
    registry.add_engine(synthesis_slot("flite"), flite)
    registry.add_engine(OUTBOUND_HTTP, outbound_http)


__all__ = ["register_engines"]
