"""Text-to-speech with espeak-ng (Debian `espeak-ng`), the speech-synthesis port's default engine
(synthesis.py). Its languages and voice variants are discovered once per process (`espeak-ng
--voices`), so a submit asking for one it lacks is refused at once.

The text is the user's: espeak-ng reads `[[...]]` in it as phoneme input (1.51 crashes with memory
corruption on `[[` + 719 characters + `]]`), so every `[[` and `]]` is broken up before it is written
(`speakable`). Like ffmpeg, the engines run with a bare environment (process.bare_env: nothing of the
worker's, no database or broker credentials), in the work folder, under an address-space cap
(MEDIAJOBS_MEDIA_MEMORY_LIMIT)."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from mediajobs.cancel import CancelToken
from mediajobs.errors import InvalidRequest, PermanentError

from .synthesis import SPEAK_TIMEOUT_SECONDS

ENGINE_NAME = "espeak-ng"
_ALIAS = re.compile(r"\(([A-Za-z0-9-]+) \d+\)")


def _listing(*args: str) -> list[str]:
    if shutil.which("espeak-ng") is None:
        return []
    try:
        done = subprocess.run(["espeak-ng", *args], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return done.stdout.splitlines()[1:]  # the first line is the table's header


@dataclass(frozen=True, kw_only=True, slots=True)
class Voices:
    languages: frozenset[str]  # language voices and the codes they also answer to (`en` -> en-gb)
    variants: frozenset[str]  # what may follow `+` in a voice (`en+f3`)

    def check(self, language: str, voice: str | None) -> str:
        """The espeak-ng voice to use; InvalidRequest when the language or voice is not installed."""
        lang = language.lower()
        if lang not in self.languages:
            base = lang.split("-", 1)[0]
            if base not in self.languages:
                raise InvalidRequest(
                    f"the speech engine has no language {language!r}; installed: "
                    f"{', '.join(sorted(self.languages))}",
                    code="unsupported_language",
                )
            lang = base
        if voice is None:
            return lang
        name, _, variant = voice.partition("+")
        if name.lower() not in self.languages or (variant and variant not in self.variants):
            raise InvalidRequest(
                f"the speech engine has no voice {voice!r}: use a language (e.g. `es`, `en-us`), optionally "
                f"with +variant ({', '.join(sorted(self.variants)[:12])}, ...)",
                code="unsupported_voice",
            )
        return voice


def discover_voices() -> Voices:
    languages: set[str] = set()
    for line in _listing("--voices"):
        fields = line.split()
        if len(fields) >= 2:
            languages.add(fields[1].lower())
            languages.update(alias.lower() for alias in _ALIAS.findall(line))
    variants = set()
    for line in _listing("--voices=variant"):
        fields = line.split()
        if len(fields) >= 5 and fields[4].startswith("!v/"):
            variants.add(fields[4][3:])
    return Voices(languages=frozenset(languages), variants=frozenset(variants))


_PHONEME_OPEN = re.compile(r"\[(?=\[)")
_PHONEME_CLOSE = re.compile(r"\](?=\])")


def speakable(text: str) -> str:
    """`text` with no `[[` or `]]` left (a space between each pair of brackets): espeak-ng never
    switches to phoneme input, and what is spoken is the same (brackets are not read aloud)."""
    return _PHONEME_CLOSE.sub("] ", _PHONEME_OPEN.sub("[ ", text))


def argv(*, voice: str, rate: int, pitch: int, text_file: Path, wav: Path) -> list[str]:
    return ["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", str(wav), "-f", str(text_file)]


class EspeakNg:
    """The espeak-ng engine: many languages, about 100x real time."""

    name = ENGINE_NAME

    def __init__(self, *, memory_limit: int = 0) -> None:
        self.memory_limit = memory_limit  # bytes of address space (0: none)

    def voice(self, language: str, voice: str | None) -> str:
        return installed_voices().check(language, voice)

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
        text_file.write_text(speakable(text) + "\n", encoding="utf-8")
        run_engine(
            self.name,
            argv(voice=voice, rate=rate, pitch=pitch, text_file=text_file, wav=wav),
            wav,
            cancel,
            timeout,
            memory_limit=self.memory_limit,
        )


def run_engine(
    name: str, command: list[str], wav: Path, cancel: CancelToken, timeout: float, *, memory_limit: int = 0
) -> None:
    """Run a speech engine's command in `wav`'s folder, with a bare environment and `memory_limit`
    (bytes of address space, 0: none); PermanentError (`synthesis_failed`) unless it wrote `wav`."""
    from mediajobs.process import bare_env, run_process

    cancel.raise_if_set()
    result = run_process(
        command,
        cancel=cancel,
        timeout=timeout,
        cwd=wav.parent,
        env=bare_env(locale="C.UTF-8"),
        memory_limit=memory_limit,
    )
    if not result.ok or not wav.is_file():
        raise PermanentError(
            f"{name} failed (exit {result.returncode}): {result.stderr_tail[-300:]}", code="synthesis_failed"
        )


_voices: Voices | None = None
_lock = threading.Lock()


def installed_voices() -> Voices:
    global _voices
    with _lock:
        if _voices is None:
            _voices = discover_voices()
        return _voices


__all__ = [
    "ENGINE_NAME",
    "EspeakNg",
    "Voices",
    "argv",
    "discover_voices",
    "installed_voices",
    "run_engine",
    "speakable",
]
