"""Subtitle cues shaped from word timestamps, the way subtitle editors lay them out.

An engine's segments are decoding windows, not subtitles: up to 30 s long, sometimes ending after the
media does. Here the words are regrouped into cues that a viewer can read:

- at most `max_lines` lines of at most `max_line_chars` characters (a single longer word keeps its line);
- at most `max_cue_seconds` long, and at least `min_cue_seconds` when the gap to the next cue allows;
- cut at every pause in speech (`pause_seconds`), and between pauses where an editor would cut: of all
  the ways to cut the words within these limits, the cheapest (`_cuts`, dynamic programming), counting
  where each cue ends (best after a sentence, then after a clause, before a conjunction or a
  preposition; not after "the" or "of", never inside a name or between a number and its unit: see
  breaks.py), a cue of one or two words that a neighbour could take (so there is none), a sentence
  ending inside a cue, a cue much emptier than its neighbours, one too short to read, and the best
  line break its text allows;
- its lines balanced (the longest as short as it can be) and broken at the best place breaks.py knows;
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

from .breaks import AFTER_SENTENCE, CLAUSE_END, SENTENCE_END, break_costs

# what a cue costs besides where it ends (breaks.py): `_cuts` picks the cheapest way to cut the words
CUE_COST = 4.0  # each cue: fewer cue changes are easier to follow
ORPHAN_COST = 100.0  # a cue of one or two words (a neighbour takes them whenever the limits allow)
SENTENCE_INSIDE_COST = 20.0  # each sentence that ends inside the cue rather than at its end
FILL_COST = 8.0  # times the square of the cue's unused share of characters: even cues, not full then tiny
HURRY_COST = 20.0  # times the share of its reading time the cue would lack before the next one starts
LINE_BREAK_WEIGHT = 0.5  # times the cost of the best line break a two-line cue allows
LINE_BREAK_CHARS = 1.5  # wrapping: one unit of break cost is worth this many characters of line length


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
    """The tokens cut into cues: at every pause, and between pauses where `_cuts` finds it best."""
    costs = break_costs([t.text for t in tokens])
    groups: list[list[_Token]] = []
    start = 0
    for k in range(1, len(tokens) + 1):
        if k == len(tokens) or tokens[k].start - tokens[k - 1].end >= limits.pause_seconds:
            groups += [list(tokens[a:b]) for a, b in _cuts(tokens, start, k, costs, limits)]
            start = k
    return groups


def _cuts(
    tokens: Sequence[_Token], lo: int, hi: int, costs: Sequence[int], limits: CueLimits
) -> list[tuple[int, int]]:
    """The cues of `tokens[lo:hi]` (speech with no pause) as (start, end) index pairs: of all the ways
    to cut them into cues within the limits, the cheapest (dynamic programming over the cut points;
    a cue holds a bounded number of words, so this is linear in the words)."""
    n = hi - lo
    width, max_lines, longest = limits.max_line_chars, limits.max_lines, limits.max_cue_seconds
    shortest, speed, capacity = limits.min_cue_seconds, limits.max_chars_per_second, width * max_lines
    lengths = [len(tokens[k].text) for k in range(lo, hi)]
    ending = [costs[k] for k in range(lo, hi - 1)] + [0]  # the run's end is a pause: a free cut
    chars, ends = [0] * (n + 1), [0] * (n + 1)  # prefix sums: characters, sentence ends
    for k in range(n):
        chars[k + 1] = chars[k] + lengths[k]
        ends[k + 1] = ends[k] + (k < n - 1 and ending[k] == AFTER_SENTENCE)
    after = [tokens[k].start for k in range(lo + 1, min(hi + 1, len(tokens)))]
    after += [float("inf")] * (n - len(after))  # when each cue's successor starts at the earliest
    best = [0.0] + [float("inf")] * n  # best[j]: the cheapest cutting of the first j tokens
    back = [0] * (n + 1)
    for i in range(n):
        first, lines, line, base = tokens[lo + i].start, 1, lengths[i], best[i] + CUE_COST
        # the words a first line can hold end at `top`; in a two-line cue the line break may come
        # after any word from `low` (the rest then fits a line) to `top`: `cheapest` is its best cost
        top = i
        while top + 1 < n and chars[top + 2] - chars[i] + top + 1 - i <= width:
            top += 1
        cheapest = ending[i : top + 1]
        for k in range(len(cheapest) - 2, -1, -1):
            if cheapest[k + 1] < cheapest[k]:
                cheapest[k] = cheapest[k + 1]
        low = i
        for j in range(i, n):
            if j > i:
                if line + 1 + lengths[j] <= width:
                    line += 1 + lengths[j]
                else:
                    lines, line = lines + 1, lengths[j]
                if lines > max_lines or tokens[lo + j].end - first > longest:
                    break
            size = chars[j + 1] - chars[i] + j - i
            cost = base + ending[j] + SENTENCE_INSIDE_COST * (ends[j] - ends[i])
            if j - i < 2:
                cost += ORPHAN_COST
            if size < capacity:
                cost += FILL_COST * (1.0 - size / capacity) ** 2
            need = min(longest, max(shortest, size / speed))  # as _needed
            if after[j] - first < need:
                cost += HURRY_COST * (need - after[j] + first) / need
            if lines == 2:
                while low < j - 1 and chars[j + 1] - chars[low + 1] + j - low - 1 > width:
                    low += 1
                cost += LINE_BREAK_WEIGHT * cheapest[low - i]
            if cost < best[j + 1]:
                best[j + 1], back[j + 1] = cost, i
    spans, j = [], n
    while j > 0:
        spans.append((lo + back[j], lo + j))
        j = back[j]
    return spans[::-1]


# -- lines ----------------------------------------------------------------------------------------------


def fits(words: Sequence[str], limits: CueLimits) -> bool:
    """Whether these words wrap into at most `max_lines` lines of `max_line_chars`."""
    return len(_greedy_lines(words, limits.max_line_chars)) <= limits.max_lines


def wrap(words: Sequence[str], limits: CueLimits, language: str | None = "en") -> tuple[str, ...]:
    """The words on as few lines as greedy wrapping needs, balanced: the longest line as short as it
    can be, with each break's cost (breaks.py, with the function words of `language`) counted as
    LINE_BREAK_CHARS characters a unit, so a line breaks after punctuation or before "and" rather
    than after "the" or inside "New York"."""
    count = len(_greedy_lines(words, limits.max_line_chars))
    if count <= 1:
        return (" ".join(words),)
    width = limits.max_line_chars
    costs = break_costs(words, language)
    best: tuple[float, tuple[str, ...]] | None = None
    for breaks in _break_sets(len(words), count):
        cuts = list(zip((0, *breaks), (*breaks, len(words)), strict=True))
        if any(b - a > 1 and len(" ".join(words[a:b])) > width for a, b in cuts):
            continue
        lines = tuple(" ".join(words[a:b]) for a, b in cuts)
        score = max(len(line) for line in lines) + LINE_BREAK_CHARS * sum(costs[b - 1] for b in breaks)
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
