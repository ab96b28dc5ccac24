"""The `normalize` stage: turn whatever audio or video was ingested into 16 kHz mono 16-bit WAV.

Every later stage (speech-to-text now, others later) reads one predictable format, so codec and container
quirks are dealt with once, here. ffprobe runs first so that a file without sound fails with a message
naming what *was* found, so that media over the limits (`MEDIAJOBS_MAX_MEDIA_SECONDS`,
`MEDIAJOBS_MAX_DECODED_BYTES`) is refused before any work, and so that ffmpeg's progress can be shown
against the real duration. A header can lie about the duration, so the limits hold while decoding too
(`-t`, `-fs`). Both tools run as `ffmpeg.py` describes: only the input, only allowed demuxers.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediajobs.errors import PermanentError, RetryableError, UnsupportedMedia

from .base import StageContext, StageResult
from .ffmpeg import demuxer_of, input_options, linked_input, refuse_format, run_tool, stderr_tail

SAMPLE_RATE = 16_000
BYTES_PER_SECOND = SAMPLE_RATE * 2  # mono, 16-bit
WAV_HEADER_BYTES = 44
OUTPUT_NAME = "audio.wav"
PROBE_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Probe:
    """What ffprobe found in the input that matters for conversion."""

    format_name: str
    duration: float | None
    audio_index: int | None  # index among the audio streams (ffmpeg's `0:a:N`) of the one to use
    audio_codec: str | None
    has_video: bool
    stream_summary: str  # e.g. "video (h264), audio (aac)", for error messages


def normalize(ctx: StageContext) -> StageResult:
    """Probe the ingested media, then convert its audio to `audio.wav` in the work folder."""
    target = ctx.work_dir / OUTPUT_NAME
    limits = Limits.of(ctx)
    with (
        ctx.storage.local_copy(ctx.input_key("media", "media")) as source,
        linked_input(ctx.work_dir, source) as url,
    ):
        ctx.progress.report(0.0, "probing media")
        probe = probe_media(ctx, url)
        if probe.audio_index is None:
            raise UnsupportedMedia(
                f"no audio stream found: the file is {probe.format_name or 'unknown'} with "
                f"{probe.stream_summary or 'no streams'}"
            )
        limits.check_probe(probe)
        convert(ctx, url, target, probe, limits)
    duration = wav_duration(target)
    limits.check_output(duration, target.stat().st_size)
    if duration <= 0:
        raise UnsupportedMedia(f"the audio stream ({probe.audio_codec or 'unknown codec'}) holds no samples")
    key = ctx.output_key(OUTPUT_NAME)
    ctx.storage.put_file(key, target)
    ctx.progress.report(100.0, "audio ready")
    return StageResult(
        output={
            "audio_key": key,
            "duration": round(duration, 3),
            "has_video": probe.has_video,
            "format": probe.format_name,
            "source_codec": probe.audio_codec,
        }
    )


# -- limits -------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """How long the media may last and how large its decoded audio may be."""

    max_seconds: float
    max_bytes: int

    @classmethod
    def of(cls, ctx: StageContext) -> Limits:
        return cls(max_seconds=ctx.settings.max_media_seconds, max_bytes=ctx.settings.max_decoded_bytes)

    def check_probe(self, probe: Probe) -> None:
        """Before any decoding: what the container says."""
        if probe.duration is None:
            return  # nothing says: decoding enforces the limits
        self._check(probe.duration, WAV_HEADER_BYTES + probe.duration * BYTES_PER_SECOND, "the file says it")

    def check_output(self, duration: float, size: int) -> None:
        """After decoding (stopped at the limits): what it really held."""
        self._check(duration, size, "decoding found it")

    def _check(self, duration: float, size: float, who: str) -> None:
        if duration > self.max_seconds:
            raise PermanentError(
                f"the media is too long: {who} lasts {_clock(duration)} or more, and at most "
                f"{_clock(self.max_seconds)} is accepted",
                code="media_too_long",
            )
        if size >= self.max_bytes:
            raise PermanentError(
                f"the media is too large: {who} decodes to {size / 1_048_576:.0f} MiB or more of audio, "
                f"and at most {self.max_bytes / 1_048_576:.0f} MiB is accepted",
                code="media_too_large",
            )

    def output_options(self) -> list[str]:
        """ffmpeg output options that stop decoding just past the limits (so going past is seen)."""
        return ["-t", f"{self.max_seconds + 1:g}", "-fs", str(self.max_bytes)]


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


# -- probing ------------------------------------------------------------------------------------------


def probe_media(ctx: StageContext, url: str) -> Probe:
    """Run ffprobe on the linked input; a file it cannot read (or may not read) is unsupported media."""
    lines: list[str] = []
    argv = [
        "ffprobe", "-v", "error", *input_options(),
        "-print_format", "json", "-show_format", "-show_streams", url,
    ]  # fmt: skip
    result = run_tool(ctx, argv, on_line=lines.append, timeout=PROBE_TIMEOUT_SECONDS)
    if not result.ok:
        refuse_format(result.stderr_tail)
        raise UnsupportedMedia(f"ffprobe cannot read the file: {stderr_tail(result)}")
    try:
        data = json.loads("\n".join(lines))
    except json.JSONDecodeError as exc:
        raise UnsupportedMedia(f"ffprobe gave unreadable output: {exc}") from exc
    return parse_probe(data)


def parse_probe(data: dict[str, Any]) -> Probe:
    """The parts of ffprobe's `-show_format -show_streams` JSON that conversion needs."""
    fmt = data.get("format") or {}
    streams: list[dict[str, Any]] = [s for s in data.get("streams") or [] if isinstance(s, dict)]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    # Cover art in an MP3 or M4A is a one-frame "video" stream; it does not make the file a video.
    video = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]
    chosen = next(
        (i for i, s in enumerate(audio) if (s.get("disposition") or {}).get("default")), 0 if audio else None
    )
    summary = ", ".join(f"{s.get('codec_type', 'unknown')} ({s.get('codec_name', '?')})" for s in streams)
    return Probe(
        format_name=str(fmt.get("format_name") or ""),
        duration=_probe_duration(fmt, streams),
        audio_index=chosen,
        audio_codec=None if chosen is None else audio[chosen].get("codec_name"),
        has_video=bool(video),
        stream_summary=summary,
    )


def _probe_duration(fmt: dict[str, Any], streams: list[dict[str, Any]]) -> float | None:
    """The container's duration, else the longest stream's; None when nothing says (live-style input)."""
    container = _positive_float(fmt.get("duration"))
    if container is not None:
        return container
    lengths = [d for d in (_positive_float(s.get("duration")) for s in streams) if d is not None]
    return max(lengths, default=None)


def _positive_float(raw: object) -> float | None:
    if not isinstance(raw, str | int | float):
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value > 0 and math.isfinite(value) else None


# -- conversion ---------------------------------------------------------------------------------------


def convert(ctx: StageContext, url: str, target: Path, probe: Probe, limits: Limits) -> None:
    """ffmpeg into a temp file, then rename: `audio.wav` exists only when it is complete."""
    demuxer = demuxer_of(probe.format_name)
    if demuxer is None:  # the whitelist let ffprobe open nothing else; never decode what it did not
        raise UnsupportedMedia(f"the file's format {probe.format_name[:100]!r} is not accepted as input")
    fd, tmp_name = tempfile.mkstemp(prefix=".audio.", suffix=".wav.part", dir=ctx.work_dir)
    os.close(fd)
    progress = _ProgressParser(ctx, probe.duration)
    argv = [
        "ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        *input_options(demuxer), "-i", url,
        "-map", f"0:a:{probe.audio_index}", "-vn", "-sn", "-dn",
        "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le", *limits.output_options(), "-f", "wav",
        "-progress", "pipe:1", "-nostats", f"file:{Path(tmp_name).name}",
    ]  # fmt: skip
    try:
        result = run_tool(ctx, argv, on_line=progress.feed, timeout=float(ctx.settings.stage_soft_time_limit))
        if not result.ok:
            tail = stderr_tail(result)
            if "No space left on device" in tail:
                raise RetryableError(f"ffmpeg ran out of disk space: {tail}", code="disk_full")
            raise UnsupportedMedia(f"ffmpeg could not decode the audio ({probe.audio_codec}): {tail}")
        os.replace(tmp_name, target)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


class _ProgressParser:
    """Turns ffmpeg's `-progress` key=value lines into percent of the probed duration."""

    def __init__(self, ctx: StageContext, duration: float | None) -> None:
        self._ctx = ctx
        self._duration = duration

    def feed(self, line: str) -> None:
        key, _, value = line.partition("=")
        if key == "progress" and value.strip() == "end":
            self._ctx.progress.report(100.0, "converting audio")
            return
        # ffmpeg's `out_time_ms` is, despite its name, in microseconds too.
        if key not in ("out_time_us", "out_time_ms"):
            return
        try:
            seconds = int(value) / 1_000_000
        except ValueError:  # "N/A" before the first frame
            return
        if self._duration:
            percent: float | None = max(0.0, min(99.9, seconds * 100.0 / self._duration))
        else:
            percent = None
        self._ctx.progress.report(percent, f"converted {seconds:.0f} s of audio")


def wav_duration(path: Path) -> float:
    """Exact length of a PCM WAV from its header, rather than trusting the source's probed duration."""
    try:
        with wave.open(str(path), "rb") as wav:
            rate = wav.getframerate()
            return wav.getnframes() / rate if rate else 0.0
    except (wave.Error, EOFError) as exc:
        raise UnsupportedMedia(f"ffmpeg produced an unreadable WAV file: {exc}") from exc


__all__ = ["Limits", "Probe", "convert", "normalize", "parse_probe", "probe_media", "wav_duration"]
