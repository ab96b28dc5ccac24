"""Subtitle cues shaped from word timestamps, the way subtitle editors lay them out.

An engine's segments are decoding windows, not subtitles: up to 30 s long, sometimes ending after the
media does. Here the words are regrouped into cues that a viewer can read:

- at most `max_lines` lines of at most `max_line_chars` characters (a single longer word keeps its line);
- at most `max_cue_seconds` long, and at least `min_cue_seconds` when the gap to the next cue allows;
- split after a sentence end, at a pause in speech, or (when a cue is full) after the last comma,
  semicolon or colon past its first third;
- never overlapping, inside [0, media duration], and slow enough to read (`max_chars_per_second`: a
  cue whose words are squeezed into too little time borrows from the silence around it and from the
  cue before; one that still gets less than half its reading time is not emitted).

Segments without word timings (an engine that gives none) get word times spread over the segment by
the length of each word. Pure functions: tested without audio in tests/unit/test_subtitles.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from mediajobs.engines import Segment, Transcript, Word

SENTENCE_END = (".", "?", "!", "…", '."', '?"', '!"')
CLAUSE_END = (",", ";", ":", "—")
PUNCTUATION_BONUS = 8


@dataclass(frozen=True, kw_only=True, slots=True)
class Cue:
    """One subtitle: shown from `start` to `end` (seconds), its text on `lines`."""

    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True, kw_only=True, slots=True)
class CueLimits:
    """How big a cue may be (the defaults follow common subtitle guidelines)."""

    max_line_chars: int = 42
    max_lines: int = 2
    max_cue_seconds: float = 7.0
    min_cue_seconds: float = 1.0
    pause_seconds: float = 0.6  # a silence this long between two words ends a cue
    max_chars_per_second: float = 25.0


@dataclass(frozen=True, slots=True)
class _Token:
    start: float
    end: float
    text: str


# -- clamping -------------------------------------------------------------------------------------------


def clamp_transcript(transcript: Transcript, duration: float | None = None) -> Transcript:
    """Every segment and word inside [0, duration] (default: the transcript's), end >= start.

    Whisper rounds timestamps to its 20 ms grid and its last segment often ends at the window's end,
    after the media does: a player then shows a cue over nothing, and editors reject it."""
    limit = transcript.duration if duration is None or duration <= 0 else duration
    segments = tuple(
        replace(
            s,
            start=_clamp(s.start, limit),
            end=max(_clamp(s.start, limit), _clamp(s.end, limit)),
            words=tuple(
                replace(
                    w, start=_clamp(w.start, limit), end=max(_clamp(w.start, limit), _clamp(w.end, limit))
                )
                for w in s.words
            ),
        )
        for s in transcript.segments
    )
    return replace(transcript, duration=limit, segments=segments)


def _clamp(value: float, limit: float) -> float:
    return round(min(max(value, 0.0), limit), 3)


# -- shaping --------------------------------------------------------------------------------------------


def shape_cues(transcript: Transcript, limits: CueLimits | None = None) -> list[Cue]:
    """The transcript's words as subtitle cues (see the module docstring for the rules)."""
    limits = limits or CueLimits()
    tokens = _tokens(transcript.segments)
    groups = _group(tokens, limits)
    return _time(groups, limits, transcript.duration)


def _tokens(segments: Iterable[Segment]) -> list[_Token]:
    tokens: list[_Token] = []
    for segment in segments:
        words = segment.words or _spread(segment)
        for word in words:
            text = " ".join(word.word.split()).replace("-->", "->")
            if not any(ch.isalnum() for ch in text):  # a lone "." or "," the decoder timed as a word
                if tokens and text and not tokens[-1].text.endswith(SENTENCE_END + CLAUSE_END):
                    last = tokens[-1]
                    tokens[-1] = _Token(last.start, max(last.end, word.end), last.text + text)
                continue
            tokens.append(_Token(word.start, max(word.start, word.end), text))
    # engines emit words in order; a word that starts before its predecessor is moved to its start
    ordered: list[_Token] = []
    for token in tokens:
        if ordered and token.start < ordered[-1].start:
            token = _Token(ordered[-1].start, max(ordered[-1].start, token.end), token.text)
        ordered.append(token)
    return ordered


def _spread(segment: Segment) -> tuple[Word, ...]:
    """Word times for a segment that has none: its span shared by the length of each word."""
    parts = segment.text.split()
    if not parts:
        return ()
    span = max(0.0, segment.end - segment.start)
    total = sum(len(p) + 1 for p in parts)
    words, at = [], segment.start
    for part in parts:
        length = span * (len(part) + 1) / total
        words.append(Word(start=at, end=at + length, word=part))
        at += length
    return tuple(words)


def _group(tokens: Sequence[_Token], limits: CueLimits) -> list[list[_Token]]:
    groups: list[list[_Token]] = []
    current: list[_Token] = []
    for token in tokens:
        if current and _must_break(current, token, limits):
            keep, carry = _split_point(current, token, limits)
            groups.append(keep)
            current = carry
        current.append(token)
        if _ends_sentence(current) and _long_enough(current, limits):
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


def _must_break(current: list[_Token], token: _Token, limits: CueLimits) -> bool:
    if token.start - current[-1].end >= limits.pause_seconds:
        return True
    if token.end - current[0].start > limits.max_cue_seconds:
        return True
    return not fits([t.text for t in [*current, token]], limits)


def _split_point(
    current: list[_Token], token: _Token, limits: CueLimits
) -> tuple[list[_Token], list[_Token]]:
    """Where to end the full cue: after its last clause end past its first third, if that leaves the
    rest (with the next word) a valid cue; otherwise just before the next word."""
    paused = token.start - current[-1].end >= limits.pause_seconds
    if not paused:
        for i in range(len(current) - 1, len(current) // 3 - 1, -1):
            if i < 1 or not current[i - 1].text.endswith(CLAUSE_END + SENTENCE_END):
                continue
            rest = [*current[i:], token]
            duration_ok = rest[-1].end - rest[0].start <= limits.max_cue_seconds
            if duration_ok and fits([t.text for t in rest], limits):
                return current[:i], current[i:]
    return current, []


def _ends_sentence(current: list[_Token]) -> bool:
    return current[-1].text.endswith(SENTENCE_END)


def _long_enough(current: list[_Token], limits: CueLimits) -> bool:
    """A sentence end closes a cue unless the cue would be a flash ("Yes." then the next sentence)."""
    chars = len(" ".join(t.text for t in current))
    return current[-1].end - current[0].start >= limits.min_cue_seconds or chars >= limits.max_line_chars // 2


# -- lines ----------------------------------------------------------------------------------------------


def fits(words: Sequence[str], limits: CueLimits) -> bool:
    """Whether these words wrap into at most `max_lines` lines of `max_line_chars`."""
    return len(_greedy_lines(words, limits.max_line_chars)) <= limits.max_lines


def wrap(words: Sequence[str], limits: CueLimits) -> tuple[str, ...]:
    """The words on as few lines as greedy wrapping needs, balanced: the longest line as short as it
    can be, though a break after punctuation may make it up to PUNCTUATION_BONUS characters longer."""
    count = len(_greedy_lines(words, limits.max_line_chars))
    if count <= 1:
        return (" ".join(words),)
    width = limits.max_line_chars
    best: tuple[int, tuple[str, ...]] | None = None
    for breaks in _break_sets(len(words), count):
        cuts = list(zip((0, *breaks), (*breaks, len(words)), strict=True))
        if any(b - a > 1 and len(" ".join(words[a:b])) > width for a, b in cuts):
            continue
        lines = tuple(" ".join(words[a:b]) for a, b in cuts)
        after_punctuation = sum(words[b - 1].endswith(CLAUSE_END + SENTENCE_END) for b in breaks)
        score = max(len(line) for line in lines) - PUNCTUATION_BONUS * after_punctuation
        if best is None or score < best[0]:
            best = (score, lines)
    return best[1] if best is not None else tuple(_greedy_lines(words, width))


def _greedy_lines(words: Sequence[str], width: int) -> list[str]:
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _break_sets(n: int, lines: int) -> Iterable[tuple[int, ...]]:
    """Every way to cut n words into `lines` non-empty lines (cues hold few words: this stays small)."""
    if lines == 1:
        yield ()
        return
    for first in range(1, n - lines + 2):
        for rest in _break_sets(n - first, lines - 1):
            yield (first, *(first + r for r in rest))


# -- timing ---------------------------------------------------------------------------------------------


def _time(groups: list[list[_Token]], limits: CueLimits, duration: float) -> list[Cue]:
    bound = duration if duration > 0 else max((g[-1].end for g in groups), default=0.0)
    longest = limits.max_cue_seconds
    spans = [
        [min(g[0].start, bound), min(max(g[-1].end, g[0].start), bound, g[0].start + longest)] for g in groups
    ]
    for i in range(1, len(spans)):  # no overlap: a cue starts when the previous one ended at the earliest
        spans[i][0] = max(spans[i][0], spans[i - 1][1])
        spans[i][1] = max(spans[i][1], spans[i][0])
    needs = [_needed(g, limits) for g in groups]
    for i, span in enumerate(spans):
        later = spans[i + 1][0] if i + 1 < len(spans) else bound
        span[1] = max(span[1], min(span[0] + needs[i], later))
        if span[1] - span[0] < needs[i]:  # squeezed between its neighbours: start earlier if that is free
            earlier = spans[i - 1][1] if i > 0 else 0.0
            span[0] = max(earlier, min(span[0], span[1] - needs[i]))
        if i > 0 and span[1] - span[0] < needs[i]:  # still squeezed: borrow what the previous cue spares
            before = spans[i - 1]
            boundary = max(before[0] + min(needs[i - 1], before[1] - before[0]), span[1] - needs[i])
            if boundary < span[0]:
                before[1] = span[0] = boundary
    return [
        Cue(start=round(start, 3), end=round(end, 3), lines=wrap([t.text for t in group], limits))
        for group, need, (start, end) in zip(groups, needs, spans, strict=True)
        # words squeezed into less than half their reading time, with no silence to borrow,
        # cannot be read: decoder debris (a repetition loop's tail), kept in the JSON's segments only
        if end - start >= need / 2
    ]


def _needed(group: list[_Token], limits: CueLimits) -> float:
    """How long a cue must show to be read: a minimum, and no faster than max_chars_per_second."""
    chars = len(" ".join(t.text for t in group))
    return min(limits.max_cue_seconds, max(limits.min_cue_seconds, chars / limits.max_chars_per_second))


__all__ = ["Cue", "CueLimits", "clamp_transcript", "fits", "shape_cues", "wrap"]
