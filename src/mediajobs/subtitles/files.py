"""SubRip and WebVTT files written and read with maintained libraries (`srt`, `webvtt-py`).

Writers take shaped cues (see shape.py). Cue text never holds a blank line (it would end the cue) or
`-->` (it would read as a timing line); WebVTT text is HTML-escaped, since `<` and `&` start markup
there. Readers accept what users' files contain (BOM, CRLF, cue settings, NOTE blocks, voice and
style tags) and raise ValueError for a file that is not a subtitle file.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from datetime import timedelta

import srt
import webvtt

from .shape import Cue


def to_srt(cues: Sequence[Cue]) -> str:
    """SubRip: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, text, blank line."""
    subtitles = [
        srt.Subtitle(index=n, start=_delta(c.start), end=_delta(c.end), content=_safe(c.lines))
        for n, c in enumerate(cues, start=1)
    ]
    return str(srt.compose(subtitles, reindex=False))


def to_vtt(cues: Sequence[Cue]) -> str:
    """WebVTT: the `WEBVTT` header, then numbered cues with `HH:MM:SS.mmm` times and escaped text."""
    captions = [
        webvtt.Caption(
            start=_vtt_stamp(c.start),
            end=_vtt_stamp(c.end),
            text=[html.escape(line, quote=False) for line in _safe(c.lines).split("\n")],
            identifier=str(n),
        )
        for n, c in enumerate(cues, start=1)
    ]
    return str(webvtt.WebVTT(captions=captions).content)


def parse_srt(text: str) -> list[Cue]:
    """The cues of a SubRip file; ValueError when it is malformed."""
    try:
        return [
            Cue(start=s.start.total_seconds(), end=s.end.total_seconds(), lines=_lines(s.content))
            for s in srt.parse(text.lstrip("\ufeff"), ignore_errors=False)
        ]
    except srt.SRTParseError as exc:
        raise ValueError(f"not a SubRip file: {exc}") from None


def parse_vtt(text: str) -> list[Cue]:
    """The cues of a WebVTT file (tags removed, entities decoded); ValueError when it is malformed."""
    try:
        document = webvtt.from_buffer(io.StringIO(text.lstrip("\ufeff")))
    except (webvtt.errors.MalformedFileError, webvtt.errors.MalformedCaptionError) as exc:
        raise ValueError(f"not a WebVTT file: {exc}") from None
    return [
        Cue(
            start=_vtt_seconds(c.start_time),
            end=_vtt_seconds(c.end_time),
            lines=_lines(html.unescape(c.text)),
        )
        for c in document.captions
    ]


def _safe(lines: Sequence[str]) -> str:
    cleaned = (" ".join(line.split()).replace("-->", "->") for line in lines)
    return "\n".join(line for line in cleaned if line)


def _lines(content: str) -> tuple[str, ...]:
    return tuple(line for line in content.replace("\r", "").split("\n") if line.strip())


def _delta(seconds: float) -> timedelta:
    return timedelta(milliseconds=max(0, round(seconds * 1000)))


def _vtt_stamp(seconds: float) -> str:
    total_ms = max(0, round(seconds * 1000))
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"


def _vtt_seconds(stamp: object) -> float:
    parts = vars(stamp)
    return (
        int(parts["hours"]) * 3600
        + int(parts["minutes"]) * 60
        + int(parts["seconds"])
        + int(parts["milliseconds"]) / 1000
    )


__all__ = ["parse_srt", "parse_vtt", "to_srt", "to_vtt"]
