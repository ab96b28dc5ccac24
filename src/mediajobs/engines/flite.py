"""Text-to-speech with flite (Debian `flite`): an optional engine for English, clearer than espeak-ng.

Its voices are discovered once per process (`flite -lv`). flite speaks English only.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

from mediajobs.errors import InvalidRequest

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


_voices: frozenset[str] | None = None
_lock = threading.Lock()


def installed_voices() -> frozenset[str]:
    global _voices
    with _lock:
        if _voices is None:
            _voices = discover_voices()
        return _voices


__all__ = ["DEFAULT_VOICE", "ENGINE_NAME", "argv", "check", "discover_voices", "installed_voices"]
