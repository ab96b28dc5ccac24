"""Long media in parallel, step one: after `normalize`, cut long audio into chunks at silences.

The transcribe pipeline's `normalize` stage fans out (pipelines/transcribe.py). Audio no longer than
`MEDIAJOBS_CHUNK_THRESHOLD_SECONDS` makes no chunks and `transcribe` decodes it whole. Longer audio is
cut about every `MEDIAJOBS_CHUNK_SECONDS`, each cut in the middle of the silence (ffmpeg
`silencedetect`) nearest that mark, so no word is split between two chunks. Each chunk reads a little
more than its own part (`MEDIAJOBS_CHUNK_OVERLAP_SECONDS`, within the silence) for context, and
*keeps* only its own part, `[keep_start, keep_end)`: the merge (stages/merge.py) drops anything
decoded outside it, so the overlap neither duplicates nor drops a word. Where speech runs on with no
silence near a mark, the cut is made at the mark and the overlap is real speech; the merge then keeps
each word (or, without word timings, each segment) on the side its middle falls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from mediajobs.domain import JsonDict
from mediajobs.errors import PermanentError

from .base import StageContext, StageResult
from .ffmpeg import input_options, linked_input, run_tool, stderr_tail
from .normalize import normalize

SILENCE_NOISE = "-35dB"  # quieter than this is silence (espeak-ng pauses, room noise between sentences)
SILENCE_MIN_SECONDS = 0.2
SEARCH = 0.5  # a cut is looked for within this fraction of a chunk around its mark


@dataclass(frozen=True, kw_only=True, slots=True)
class Chunk:
    """One part of the audio: decode [start, end), keep what lies in [keep_start, keep_end)."""

    index: int
    start: float
    end: float
    keep_start: float
    keep_end: float
    cut: str  # how its end was cut: "silence", "hard" (no silence near the mark) or "end"

    def params(self) -> JsonDict:
        return {
            "index": self.index,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "keep_start": round(self.keep_start, 3),
            "keep_end": round(self.keep_end, 3),
            "cut": self.cut,
        }


def plan_chunks(
    duration: float, silences: Sequence[tuple[float, float]], *, target: float, overlap: float
) -> list[Chunk]:
    """Cut `duration` seconds into parts of about `target` seconds at the given silences."""
    cuts: list[tuple[float, float, str]] = []  # (cut, half the silence around it, kind)
    position = 0.0
    while duration - position > target * (1 + SEARCH):
        mark = position + target
        lo, hi = mark - target * SEARCH, mark + target * SEARCH
        near = [(s, e) for s, e in silences if lo <= (s + e) / 2 <= hi]
        if near:
            s, e = min(near, key=lambda se: (abs((se[0] + se[1]) / 2 - mark), -(se[1] - se[0])))
            cuts.append(((s + e) / 2, (e - s) / 2, "silence"))
        else:
            cuts.append((mark, overlap, "hard"))
        position = cuts[-1][0]
    bounds = [(0.0, 0.0, "start"), *cuts, (duration, 0.0, "end")]
    chunks = []
    for i in range(len(bounds) - 1):
        (left, left_room, _), (right, right_room, kind) = bounds[i], bounds[i + 1]
        chunks.append(
            Chunk(
                index=i,
                start=max(0.0, left - min(overlap, left_room)),
                end=min(duration, right + min(overlap, right_room)),
                keep_start=left,
                keep_end=right,
                cut=kind,
            )
        )
    return chunks


def parse_silences(lines: Sequence[str]) -> list[tuple[float, float]]:
    """(start, end) of each silence from `silencedetect`'s metadata lines."""
    silences: list[tuple[float, float]] = []
    start: float | None = None
    for line in lines:
        key, _, value = line.strip().partition("=")
        if key == "lavfi.silence_start":
            start = max(0.0, float(value))
        elif key == "lavfi.silence_end" and start is not None:
            silences.append((start, float(value)))
            start = None
    return silences


def detect_silences(ctx: StageContext, audio_key: str, timeout: float) -> list[tuple[float, float]]:
    """The silences of a WAV this job made (ffmpeg `silencedetect`, its metadata on stdout)."""
    with ctx.storage.local_copy(audio_key) as audio, linked_input(ctx.work_dir, audio) as url:
        return parse_silences(_silencedetect(ctx, url, timeout))


def _silencedetect(ctx: StageContext, url: str, timeout: float) -> list[str]:
    lines: list[str] = []
    argv = [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", *input_options("wav"), "-i", url,
        "-af", f"silencedetect=noise={SILENCE_NOISE}:duration={SILENCE_MIN_SECONDS},"
        "ametadata=mode=print:file=-",
        "-f", "null", "-",
    ]  # fmt: skip
    result = run_tool(ctx, argv, on_line=lines.append, timeout=timeout)
    if not result.ok:
        raise PermanentError(f"silence detection failed: {stderr_tail(result)}", code="split_failed")
    return lines


def normalize_and_split(ctx: StageContext) -> StageResult:
    """`normalize`, then for long audio one child run per chunk (see the module's docstring)."""
    result = normalize(ctx)
    duration = float(result.output["duration"])
    settings = ctx.settings
    threshold = settings.chunk_threshold_seconds
    if threshold <= 0 or duration <= threshold:
        return result
    ctx.progress.report(100.0, "finding silences to cut the audio at")
    silences = detect_silences(ctx, str(result.output["audio_key"]), timeout=max(60.0, duration / 10))
    chunks = plan_chunks(
        duration, silences, target=settings.chunk_seconds, overlap=settings.chunk_overlap_seconds
    )
    hard = sum(1 for c in chunks if c.cut == "hard")
    ctx.progress.report(100.0, f"audio cut into {len(chunks)} chunks ({hard} without a silence)")
    return replace(
        result,
        output={**result.output, "chunks": len(chunks), "hard_cuts": hard},
        children=[c.params() for c in chunks],
    )


__all__ = ["Chunk", "detect_silences", "normalize_and_split", "parse_silences", "plan_chunks"]
