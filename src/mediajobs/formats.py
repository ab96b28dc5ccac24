"""Transcript file formats: SRT, WebVTT, plain text and JSON, plus SRT/VTT readers.

Pure functions over `Transcript`, so every format is tested without audio. Writers share two rules:
segments with no text are skipped, and a cue never ends before it starts (engines occasionally emit
such timestamps, and players reject them). Cue text is kept on non-blank lines, because a blank line
ends a cue in both SRT and VTT.
"""

from __future__ import annotations

import html
import re
from typing import Any

from mediajobs.engines import Segment, Transcript, Word

Cue = tuple[float, float, str]

_TIMING = re.compile(
    r"^\s*(?P<start>(?:\d+:)?\d{1,2}:\d{2}[,.]\d{1,3})\s*-->\s*(?P<end>(?:\d+:)?\d{1,2}:\d{2}[,.]\d{1,3})"
)
_BLOCK_SPLIT = re.compile(r"\n[ \t]*\n")


# -- writers ------------------------------------------------------------------------------------------


def to_srt(t: Transcript) -> str:
    """SubRip: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, text, blank line."""
    blocks = [
        f"{n}\n{_timestamp(start, ',')} --> {_timestamp(end, ',')}\n{text}\n"
        for n, (start, end, text) in enumerate(_cues(t), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(t: Transcript) -> str:
    """WebVTT: the `WEBVTT` header, then cues with `HH:MM:SS.mmm` times and HTML-escaped text."""
    blocks = ["WEBVTT\n"]
    blocks.extend(
        f"{n}\n{_timestamp(start, '.')} --> {_timestamp(end, '.')}\n{html.escape(text, quote=False)}\n"
        for n, (start, end, text) in enumerate(_cues(t), start=1)
    )
    return "\n".join(blocks)


def to_text(t: Transcript) -> str:
    """Plain text, one segment per line."""
    lines = [text for _, _, text in _cues(t)]
    return "\n".join(lines) + "\n" if lines else ""


def to_json(t: Transcript) -> dict[str, Any]:
    """A JSON-ready dict; `words` appears on a segment only when the engine produced word timings."""
    segments: list[dict[str, Any]] = []
    for segment in _spoken(t):
        start, end = _span(segment.start, segment.end)
        item: dict[str, Any] = {
            "id": len(segments) + 1,
            "start": start,
            "end": end,
            "text": _clean(segment.text),
        }
        if segment.words:
            item["words"] = [_word_json(w) for w in segment.words]
        segments.append(item)
    return {
        "text": " ".join(s["text"] for s in segments),
        "language": t.language,
        "duration": round(t.duration, 3),
        "segments": segments,
    }


def _word_json(word: Word) -> dict[str, Any]:
    start, end = _span(word.start, word.end)
    probability = None if word.probability is None else round(word.probability, 4)
    return {"start": start, "end": end, "word": word.word.strip(), "probability": probability}


def _spoken(t: Transcript) -> list[Segment]:
    return [s for s in t.segments if _clean(s.text)]


def _cues(t: Transcript) -> list[Cue]:
    return [(*_span(s.start, s.end), _clean(s.text)) for s in _spoken(t)]


def _span(start: float, end: float) -> tuple[float, float]:
    """Millisecond-rounded times with 0 <= start <= end."""
    start_ms = max(0, round(start * 1000))
    end_ms = max(start_ms, round(end * 1000))
    return start_ms / 1000, end_ms / 1000


def _clean(text: str) -> str:
    # "-->" inside cue text would be read as a timing line.
    lines = (" ".join(line.split()).replace("-->", "->") for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _timestamp(seconds: float, separator: str) -> str:
    total_ms = max(0, round(seconds * 1000))
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


# -- readers ------------------------------------------------------------------------------------------


def parse_srt(text: str) -> list[Cue]:
    """Cues of an SRT file as (start seconds, end seconds, text); raises ValueError when malformed."""
    cues: list[Cue] = []
    for block in _blocks(text):
        lines = block.split("\n")
        if lines and _TIMING.match(lines[0]) is None:
            if not lines[0].strip().isdigit():
                raise ValueError(f"SRT cue does not start with a number or timing: {lines[0]!r}")
            lines = lines[1:]
        cues.append(_cue(lines, block))
    return cues


def parse_vtt(text: str) -> list[Cue]:
    """Cues of a WebVTT file as (start seconds, end seconds, text); raises ValueError when malformed."""
    blocks = _blocks(text)
    if not blocks or not blocks[0].startswith("WEBVTT"):
        raise ValueError("a WebVTT file must start with 'WEBVTT'")
    cues: list[Cue] = []
    for block in blocks[1:]:
        lines = block.split("\n")
        if lines[0].startswith(("NOTE", "STYLE", "REGION")):
            continue
        if _TIMING.match(lines[0]) is None:
            lines = lines[1:]  # a cue identifier
        start, end, body = _cue(lines, block)
        cues.append((start, end, html.unescape(body)))
    return cues


def _blocks(text: str) -> list[str]:
    normalised = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return [b.strip("\n") for b in _BLOCK_SPLIT.split(normalised) if b.strip()]


def _cue(lines: list[str], block: str) -> Cue:
    match = _TIMING.match(lines[0]) if lines else None
    if match is None:
        raise ValueError(f"cue without a timing line: {block[:80]!r}")
    return _seconds(match["start"]), _seconds(match["end"]), "\n".join(lines[1:])


def _seconds(stamp: str) -> float:
    parts = stamp.replace(",", ".").split(":")
    hours = int(parts[0]) if len(parts) == 3 else 0
    minutes, secs = int(parts[-2]), float(parts[-1])
    return hours * 3600 + minutes * 60 + secs


__all__ = ["Cue", "parse_srt", "parse_vtt", "to_json", "to_srt", "to_text", "to_vtt"]
