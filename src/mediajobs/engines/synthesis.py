"""The speech-synthesis engine port: text into a WAV file, with a voice the engine has.

Each engine has a slot of its own (`synthesis_slot("espeak-ng")`, `synthesis_slot("flite")`), so a job
names the engine it wants and a worker builds only the engines its jobs ask for. espeak.py and
flite.py implement it; a fake for tests is in mediajobs.testing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from mediajobs.cancel import CancelToken

from .registry import Slot

SPEAK_TIMEOUT_SECONDS = 300.0
"""How long one call may speak (a piece of a long text, or one cue of a dub)."""


class SpeechSynthesis(Protocol):
    """Speaks text; knows its languages and voices."""

    name: str

    def voice(self, language: str, voice: str | None) -> str:
        """The engine's voice for `language` and the asked `voice` (None: the language's default);
        InvalidRequest (`unsupported_language`, `unsupported_voice`) when it has none."""
        ...

    def speak(
        self,
        text: str,
        wav: Path,
        *,
        voice: str,
        rate: int,
        pitch: int,
        cancel: CancelToken,
        timeout: float = SPEAK_TIMEOUT_SECONDS,
    ) -> None:
        """`text` spoken with `voice` at `rate` words per minute into the WAV file `wav` (its folder is
        the caller's work folder); PermanentError (`synthesis_failed`) when the engine fails."""
        ...


def synthesis_slot(engine: str) -> Slot[SpeechSynthesis]:
    """The registry slot of the speech engine named `engine` (the `engine` option of a job)."""
    return Slot(f"speech_synthesis:{engine}")


__all__ = ["SPEAK_TIMEOUT_SECONDS", "SpeechSynthesis", "synthesis_slot"]
