"""The audio formats a `synthesize` job may ask for: how ffmpeg encodes each, its media type, and
whether this machine's ffmpeg has the encoder (asked once per process, `ffmpeg -encoders`).

Here, below both the stage that encodes (stages/synthesize.py) and the submit check that refuses a
format the machine cannot make (pipelines/synthesize.py, through capabilities.py), so the API process
knows the formats without loading stage code.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from dataclasses import dataclass

from mediajobs.errors import InvalidRequest


@dataclass(frozen=True, kw_only=True, slots=True)
class AudioFormat:
    name: str  # the `format` option and the file's suffix (speech.<name>)
    content_type: str
    encoder: str | None  # the ffmpeg encoder (None: the joined WAV as it is)
    ffmpeg_args: tuple[str, ...] = ()  # output options after `-i <wav>`


FORMATS: dict[str, AudioFormat] = {
    f.name: f
    for f in (
        AudioFormat(name="wav", content_type="audio/wav", encoder=None),
        AudioFormat(name="mp3", content_type="audio/mpeg", encoder="libmp3lame", ffmpeg_args=("-b:a", "64k")),
        AudioFormat(
            name="opus",
            content_type="audio/ogg",
            encoder="libopus",
            ffmpeg_args=("-b:a", "32k", "-ar", "48000"),
        ),
        # AAC in ADTS frames (a bare .aac file, what OpenAI's `aac` is)
        AudioFormat(
            name="aac", content_type="audio/aac", encoder="aac", ffmpeg_args=("-b:a", "64k", "-f", "adts")
        ),
        AudioFormat(name="flac", content_type="audio/flac", encoder="flac", ffmpeg_args=("-f", "flac")),
        # raw samples, no header: 24 kHz, 16-bit signed little-endian, mono (OpenAI's `pcm`)
        AudioFormat(
            name="pcm",
            content_type="audio/pcm",
            encoder="pcm_s16le",
            ffmpeg_args=("-ar", "24000", "-ac", "1", "-f", "s16le"),
        ),
    )
}


def encode_args(fmt: AudioFormat) -> list[str]:
    """ffmpeg's output options for `fmt` (after its input)."""
    return [] if fmt.encoder is None else ["-c:a", fmt.encoder, *fmt.ffmpeg_args]


_lock = threading.Lock()
_encoders: frozenset[str] | None = None


def installed_encoders() -> frozenset[str] | None:
    """The audio encoders of this machine's ffmpeg (None: no ffmpeg here to ask, e.g. an API host
    without it: the worker then decides)."""
    global _encoders
    with _lock:
        if _encoders is None:
            _encoders = _discover()
        return _encoders or None


def _discover() -> frozenset[str]:
    if shutil.which("ffmpeg") is None:
        return frozenset()
    try:
        done = subprocess.run(
            ["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    found = set()
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].startswith("A") and len(fields[0]) == 6:
            found.add(fields[1])
    return frozenset(found)


def check_format(name: str, encoders: frozenset[str] | None) -> AudioFormat:
    """The format `name`; InvalidRequest (`unsupported_format`) when it is unknown or `encoders` (the
    machine's, None: unknown) lack its encoder."""
    fmt = FORMATS.get(name)
    if fmt is None:
        raise InvalidRequest(
            f"unknown audio format {name[:20]!r}; formats: {', '.join(FORMATS)}", code="unsupported_format"
        )
    if fmt.encoder is not None and encoders is not None and fmt.encoder not in encoders:
        able = [f.name for f in FORMATS.values() if f.encoder is None or f.encoder in encoders]
        raise InvalidRequest(
            f"this machine's ffmpeg has no {fmt.encoder} encoder for {name!r}; formats it can make: "
            f"{', '.join(able)}",
            code="unsupported_format",
        )
    return fmt


__all__ = ["FORMATS", "AudioFormat", "check_format", "encode_args", "installed_encoders"]
