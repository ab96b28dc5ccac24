"""Text a user hands us (SRT, WebVTT, plain text) as cues, and cues back out as SRT/VTT/TXT/JSON.

Reading and writing keep every cue and its timing exactly (milliseconds): a translation of a subtitle
file has the same cues at the same times as its input. Parsing is the `srt` and `webvtt-py` packages'.
Plain text has no timings: each paragraph (blank-line separated) is one cue.

Every `.txt` artifact is written by `to_text`, one rule for all pipelines: a line per timed cue, and a
blank line between paragraphs, which start where the speech paused PARAGRAPH_PAUSE_SECONDS or more
between two cues; untimed cues (plain text) are paragraphs of their own, as they came.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import srt
import webvtt

from mediajobs.errors import PermanentError

TEXT_SUFFIXES = (".srt", ".vtt", ".txt")
PARAGRAPH_PAUSE_SECONDS = 2.0  # a gap this long between two cues starts a new paragraph in a .txt

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?\u2026\u3002\uff01\uff1f])\s+")  # also ... and CJK full stops


@dataclass(frozen=True, kw_only=True, slots=True)
class Cue:
    text: str  # may hold several lines
    start: float | None = None  # seconds; None for plain text
    end: float | None = None


class TextCue(Protocol):
    """What `to_text` reads of a cue: this module's cues and the shaped subtitles' (subtitles.Cue)."""

    @property
    def text(self) -> str: ...
    @property
    def start(self) -> float | None: ...
    @property
    def end(self) -> float | None: ...


def timed(cues: Sequence[Cue]) -> bool:
    return bool(cues) and all(c.start is not None and c.end is not None for c in cues)


def text_format(filename: str) -> str:
    """`srt`, `vtt` or `txt` from a file name; PermanentError `unsupported_text` for anything else."""
    lower = filename.lower()
    for suffix in TEXT_SUFFIXES:
        if lower.endswith(suffix):
            return suffix[1:]
    raise PermanentError(
        f"{filename[:100]!r} is not a text file this pipeline reads ({', '.join(TEXT_SUFFIXES)})",
        code="unsupported_text",
    )


def parse(data: bytes, fmt: str) -> list[Cue]:
    """The cues of an SRT, VTT or TXT document; PermanentError `invalid_text` when it does not parse."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PermanentError("the text is not UTF-8", code="invalid_text") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        if fmt == "srt":
            return [
                Cue(text=s.content.strip(), start=s.start.total_seconds(), end=s.end.total_seconds())
                for s in srt.parse(text)
            ]
        if fmt == "vtt":
            return [
                Cue(text=c.text.strip(), start=_vtt_seconds(c.start), end=_vtt_seconds(c.end))
                for c in webvtt.from_string(text).captions
            ]
    except Exception as exc:  # both libraries raise their own error types for malformed input
        raise PermanentError(
            f"the {fmt.upper()} file does not parse: {exc}"[:500], code="invalid_text"
        ) from None
    return [Cue(text=p.strip()) for p in _PARAGRAPH.split(text) if p.strip()]


def _vtt_seconds(stamp: str) -> float:
    parts = [float(p) for p in stamp.split(":")]
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return round(seconds, 3)


def _vtt_stamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"


def _times(cue: Cue) -> tuple[float, float]:
    return float(cue.start or 0.0), float(cue.end if cue.end is not None else cue.start or 0.0)


def to_srt(cues: Sequence[Cue]) -> str:
    items = []
    for index, cue in enumerate(cues, start=1):
        start, end = _times(cue)
        items.append(
            srt.Subtitle(
                index=index,
                start=timedelta(milliseconds=round(start * 1000)),
                end=timedelta(milliseconds=round(end * 1000)),
                content=cue.text or " ",
            )
        )
    return str(srt.compose(items, reindex=False))


def to_vtt(cues: Sequence[Cue]) -> str:
    captions = []
    for cue in cues:
        start, end = _times(cue)
        captions.append(webvtt.Caption(start=_vtt_stamp(start), end=_vtt_stamp(end), text=cue.text or " "))
    out = io.StringIO()
    webvtt.WebVTT(captions=captions).write(out)
    return out.getvalue()


def to_text(cues: Sequence[TextCue]) -> str:
    """Plain text (see the module docstring): a line per timed cue, its lines joined, and a blank line
    where a pause of PARAGRAPH_PAUSE_SECONDS or more starts a paragraph; an untimed cue is a paragraph
    of its own, its lines kept. Cues without text are skipped."""
    paragraphs: list[str] = []
    last_end: float | None = None  # the end of the cue before, when it was timed
    for cue in cues:
        start, end = cue.start, cue.end
        if start is None or end is None:
            text = "\n".join(line.strip() for line in cue.text.strip().split("\n"))
            if text:
                paragraphs.append(text)
                last_end = None
            continue
        text = " ".join(cue.text.split())
        if not text:
            continue
        if last_end is not None and start - last_end < PARAGRAPH_PAUSE_SECONDS:
            paragraphs[-1] += "\n" + text
        else:
            paragraphs.append(text)
        last_end = end
    return "\n\n".join(paragraphs) + "\n" if paragraphs else ""


def cues_json(cues: Sequence[Cue]) -> list[dict[str, Any]]:
    return [{"id": i, "start": c.start, "end": c.end, "text": c.text} for i, c in enumerate(cues, start=1)]


def cues_from_json(items: Sequence[dict[str, Any]]) -> list[Cue]:
    return [Cue(text=str(i["text"]), start=i.get("start"), end=i.get("end")) for i in items]


def sentences(text: str) -> list[str]:
    """`text` split after sentence-ending punctuation (and at blank lines), empty pieces dropped."""
    pieces = []
    for paragraph in _PARAGRAPH.split(text):
        pieces += [s.strip() for s in _SENTENCE.split(" ".join(paragraph.split())) if s.strip()]
    return pieces


__all__ = [
    "PARAGRAPH_PAUSE_SECONDS",
    "TEXT_SUFFIXES",
    "Cue",
    "TextCue",
    "cues_from_json",
    "cues_json",
    "parse",
    "sentences",
    "text_format",
    "timed",
    "to_srt",
    "to_text",
    "to_vtt",
]
