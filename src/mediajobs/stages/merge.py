"""Long media in parallel, step three: the `transcribe` stage joins the chunks into one transcript.

When `normalize` cut the audio (stages/split.py), the `transcribe` stage waits for every `chunk[i]` and
merges their transcripts in order: times move from each chunk's start to the whole file's, and each
chunk contributes only what lies in its own part, `[keep_start, keep_end)`, judged by the middle of
each word (with word timings) or of each segment. The parts tile the audio, so every word lands
exactly once. Without chunks the stage transcribes the audio itself (stages/transcribe.py).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from mediajobs.domain import JsonDict
from mediajobs.engines import Segment, Transcript, Word
from mediajobs.engines.wire import details_from_json
from mediajobs.errors import PermanentError
from mediajobs.subtitles import clamp_transcript, shape_cues

from .base import StageContext, StageResult
from .transcribe import _options as transcribe_options
from .transcribe import _write as write_outputs
from .transcribe import cue_limits, transcribe

CHUNK_PREFIX = "chunk["  # the children of `normalize` (pipelines/transcribe.py)


def chunk_outputs(inputs: Mapping[str, JsonDict]) -> list[JsonDict]:
    """The committed outputs of the chunks among a stage's inputs, in order."""
    chunks = [v for k, v in inputs.items() if k.startswith(CHUNK_PREFIX)]
    return sorted(chunks, key=lambda c: int(c.get("index", 0)))


def transcribe_or_merge(ctx: StageContext) -> StageResult:
    """The `transcribe` stage: merge the chunks if the audio was cut, else transcribe it whole."""
    chunks = chunk_outputs(ctx.inputs)
    if not chunks:
        return transcribe(ctx)
    segments: list[Segment] = []
    for n, chunk in enumerate(chunks):
        ctx.cancel.raise_if_set()
        with ctx.storage.open(str(chunk["transcript_key"])) as fh:
            document = json.load(fh)
        segments.extend(
            kept_segments(
                document.get("segments") or (),
                offset=float(chunk["start"]),
                keep=(float(chunk["keep_start"]), float(chunk["keep_end"])),
                first=n == 0,
                last=n == len(chunks) - 1,
            )
        )
        ctx.progress.report((n + 1) * 90.0 / len(chunks), f"merged chunk {n + 1} of {len(chunks)}")
    duration = float(ctx.inputs["audio"].get("duration") or 0.0)
    language = _language(chunks)
    transcript = Transcript(
        language=language,
        duration=duration,
        language_probability=_probability(chunks, language),
        segments=tuple(monotonic(segments)),
    )
    options = transcribe_options(ctx)
    transcript = clamp_transcript(transcript, duration)
    cues = shape_cues(transcript, cue_limits(options))
    artifacts = write_outputs(ctx.work_dir, transcript, cues, options)
    ctx.progress.report(100.0, "transcript ready")
    return StageResult(
        output={
            "language": transcript.language,
            "language_probability": transcript.language_probability,
            "model": chunks[0].get("model"),
            "task": chunks[0].get("task"),
            "duration": round(duration, 3),
            "segments": sum(1 for s in transcript.segments if s.text.strip()),
            "cues": len(cues),
            "words": len(transcript.text.split()),
            "engine": str(chunks[0].get("engine") or ""),
            "chunks": len(chunks),
            "artifacts": [a.name for a in artifacts],
        },
        artifacts=artifacts,
    )


def kept_segments(
    raw: Iterable[Mapping[str, Any]], *, offset: float, keep: tuple[float, float], first: bool, last: bool
) -> list[Segment]:
    """A chunk's segments (times from its own start) on the file's clock, cut to its part."""
    lo = float("-inf") if first else keep[0]
    hi = float("inf") if last else keep[1]
    out = []
    for item in raw:
        try:
            start, end = float(item["start"]) + offset, float(item["end"]) + offset
            text = str(item.get("text") or "").strip()
            words = [
                Word(
                    start=float(w["start"]) + offset,
                    end=float(w["end"]) + offset,
                    word=str(w["word"]),
                    probability=None if w.get("probability") is None else float(w["probability"]),
                )
                for w in item.get("words") or ()
            ]
            # the chunk's decoding details, when the job asked for them (`segment_details`)
            details = details_from_json(item) if "avg_logprob" in item else None
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentError(f"a chunk's transcript is malformed: {exc}", code="invalid_chunk") from exc
        if words:
            mine = [w for w in words if lo <= (w.start + w.end) / 2 < hi]
            if not mine:
                continue
            if len(mine) < len(words):  # the segment crosses a hard cut: keep this side's words
                text = " ".join(w.word.strip() for w in mine)
                start, end = mine[0].start, mine[-1].end
            out.append(Segment(start=start, end=end, text=text, words=tuple(mine), details=details))
        elif lo <= (start + end) / 2 < hi and text:
            out.append(Segment(start=start, end=end, text=text, details=details))
    return out


def monotonic(segments: Iterable[Segment]) -> list[Segment]:
    """Segments whose starts never go back and which never overlap the one before."""
    out: list[Segment] = []
    last_end = 0.0
    for segment in segments:
        start = max(segment.start, last_end)
        end = max(segment.end, start)
        out.append(replace(segment, start=start, end=end))
        last_end = end
    return out


def _probability(chunks: list[JsonDict], language: str) -> float | None:
    """How sure the detection of `language` was, on average over the chunks that found it (None: the
    language was given)."""
    found = [c.get("language_probability") for c in chunks if str(c.get("language") or "") == language]
    values = [float(p) for p in found if isinstance(p, int | float)]
    return round(sum(values) / len(values), 4) if values else None


def _language(chunks: list[JsonDict]) -> str:
    """The language most of the words were in (chunks detect it each on their own)."""
    votes: Counter[str] = Counter()
    for chunk in chunks:
        votes[str(chunk.get("language") or "")] += int(chunk.get("words") or 0) + 1
    return votes.most_common(1)[0][0]


__all__ = ["chunk_outputs", "kept_segments", "monotonic", "transcribe_or_merge"]
