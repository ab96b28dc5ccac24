"""Which implementation fills each engine slot in a worker: the one place engines are registered."""

from __future__ import annotations

from mediajobs.settings import Settings

from .registry import Engines
from .speech import SPEECH_TO_TEXT
from .whisper import whisper_factory


def default_engines(settings: Settings) -> Engines:
    """Every engine a worker may need, each built only when a stage first asks for it."""
    engines = Engines()
    engines.register(SPEECH_TO_TEXT, whisper_factory(settings))
    return engines


__all__ = ["default_engines"]
