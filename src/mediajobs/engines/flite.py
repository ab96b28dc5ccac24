"""Text-to-speech with flite (Debian `flite`): an optional engine of the speech-synthesis port
(synthesis.py) for English, clearer than espeak-ng.

Its voices are discovered once per process (`flite -lv`). flite speaks English only.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

from mediajobs.cancel import CancelToken
from mediajobs.errors import InvalidRequest

from .espeak import run_engine
from .synthesis import SPEAK_TIMEOUT_SECONDS

ENGINE_NAME = "flite"
DEFAULT_VOICE = "slt"
_NATURAL_RATE = 170  # words per minute at duration_stretch 1


def discover_voices() -> frozenset[str]:
    if shutil.which("flite") is None:
        return frozenset()
    try:
        done = subprocess.run(["flite", "-lv"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    _, _, names = done.stdout.partition(":")
    return frozenset(names.split())


def check(voices: frozenset[str], language: str, voice: str | None) -> str:
    """The flite voice to use; InvalidRequest when flite is missing, the language is not English, or
    the voice is not one of its own."""
    if not voices:
        raise InvalidRequest(
            "the flite engine is not installed here; use espeak-ng", code="unsupported_engine"
        )
    if language.split("-", 1)[0].lower() != "en":
        raise InvalidRequest(
            f"flite speaks English only, not {language!r}; use espeak-ng", code="unsupported_language"
        )
    chosen = voice or DEFAULT_VOICE
    if chosen not in voices:
        raise InvalidRequest(
            f"flite has no voice {chosen!r}; its voices: {', '.join(sorted(voices))}",
            code="unsupported_voice",
        )
    return chosen


def argv(*, voice: str, rate: int, text_file: Path, wav: Path) -> list[str]:
    stretch = _NATURAL_RATE / rate
    return [
        "flite",
        "-voice",
        voice,
        "--setf",
        f"duration_stretch={stretch:.3f}",
        "-f",
        str(text_file),
        "-o",
        str(wav),
    ]


class Flite:
    """The flite engine: English only; `pitch` is not used."""

    name = ENGINE_NAME

    def __init__(self, *, memory_limit: int = 0) -> None:
        self.memory_limit = memory_limit  # bytes of address space (0: none)

    def voice(self, language: str, voice: str | None) -> str:
        return check(installed_voices(), language, voice)

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
        text_file = wav.with_suffix(".txt")
        text_file.write_text(text + "\n", encoding="utf-8")
        run_engine(
            self.name,
            argv(voice=voice, rate=rate, text_file=text_file, wav=wav),
            wav,
            cancel,
            timeout,
            memory_limit=self.memory_limit,
        )


_voices: frozenset[str] | None = None
_lock = threading.Lock()


def installed_voices() -> frozenset[str]:
    global _voices
    with _lock:
        if _voices is None:
            _voices = discover_voices()
        return _voices


__all__ = ["DEFAULT_VOICE", "ENGINE_NAME", "Flite", "argv", "check", "discover_voices", "installed_voices"]
