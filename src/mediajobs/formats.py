"""The transcript as JSON (subtitle files are in subtitles/, plain text is textio.to_text of the cues).

Pure functions over a `Transcript` (already clamped to the media, see `subtitles.clamp_transcript`) and
its shaped cues, so every format is tested without audio. Segments with no text are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mediajobs.engines import Segment, SegmentDetails, Transcript, Word
from mediajobs.subtitles import Cue


def to_json(
    t: Transcript, cues: Sequence[Cue] = (), *, words: bool = True, details: bool = False
) -> dict[str, Any]:
    """A JSON-ready dict: the engine's raw `segments` (with `words` when asked for and produced, and
    the decoder's `seek`, `tokens`, `temperature`, `avg_logprob`, `compression_ratio` and
    `no_speech_prob` with `details` when the engine reported them) and the subtitle `cues` made of them."""
    segments: list[dict[str, Any]] = []
    for segment in _spoken(t):
        start, end = _span(segment.start, segment.end)
        item: dict[str, Any] = {
            "id": len(segments) + 1,
            "start": start,
            "end": end,
            "text": _clean(segment.text),
        }
        if details and segment.details is not None:
            item.update(details_json(segment.details))
        if words and segment.words:
            item["words"] = [_word_json(w) for w in segment.words]
        segments.append(item)
    return {
        "text": " ".join(s["text"] for s in segments),
        "language": t.language,
        "duration": round(t.duration, 3),
        "segments": segments,
        "cues": [
            {"id": n, "start": c.start, "end": c.end, "text": c.text} for n, c in enumerate(cues, start=1)
        ],
    }


def details_json(details: SegmentDetails) -> dict[str, Any]:
    """A segment's decoding details, flat in its JSON (OpenAI's verbose_json segment fields)."""
    return {
        "seek": details.seek,
        "tokens": list(details.tokens),
        "temperature": round(details.temperature, 2),
        "avg_logprob": round(details.avg_logprob, 6),
        "compression_ratio": round(details.compression_ratio, 6),
        "no_speech_prob": round(details.no_speech_prob, 6),
    }


def _word_json(word: Word) -> dict[str, Any]:
    start, end = _span(word.start, word.end)
    probability = None if word.probability is None else round(word.probability, 4)
    return {"start": start, "end": end, "word": word.word.strip(), "probability": probability}


def _spoken(t: Transcript) -> list[Segment]:
    return [s for s in t.segments if _clean(s.text)]


def _span(start: float, end: float) -> tuple[float, float]:
    """Millisecond-rounded times with 0 <= start <= end."""
    start_ms = max(0, round(start * 1000))
    end_ms = max(start_ms, round(end * 1000))
    return start_ms / 1000, end_ms / 1000


def _clean(text: str) -> str:
    return " ".join(text.split())


__all__ = ["details_json", "to_json"]
