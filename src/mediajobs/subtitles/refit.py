"""Translated subtitles laid back into the source's cues: whole sentences in, the same cues and times out.

A translation engine translates a sentence well only when it sees the whole of it: a cue's line on its
own comes back as a sentence of its own (a spurious capital, words that lost their agreement). So the
cues are grouped into passages that hold whole sentences (`passages`), each passage is translated as
one text, and its translated words are cut back into the passage's cues (`lay_out`): of all the ways
to cut them into as many cues, the cheapest (dynamic programming over the cut points), counting

- how far each cut lies from where the source's cut was, in proportion (the speech they are shown
  over: a cue keeps its share of the text);
- how bad a break it is (breaks.py: best after a sentence or a clause, never inside a name or between
  a number and its unit);
- a cue that would have to be read faster than `max_chars_per_second` in the time it shows;
- a cue that does not fit `max_lines` lines of `max_line_chars` (heavily: it gets another line);
- an empty cue (only when there are fewer words than cues).

A passage whose translation does not fit its cues (longer than they hold, or than their time allows)
is laid out with the passages after it (`lay_out_passages`), so a neighbour with room takes the rest.

Each cue's words are then wrapped (shape.py `wrap`: balanced lines, broken where breaks.py says), so
no line is longer than `max_line_chars` unless one word is. A cue of dialogue (lines opened by a dash,
one speaker each) keeps its lines: it is its own passage, translated line by line. Pure functions:
tested in tests/unit/test_subtitle_refit.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .breaks import break_cost, break_costs, ends_sentence
from .shape import CueLimits, wrap

MAX_PASSAGE_CUES = 8  # a "sentence" longer than this (speech the engine did not punctuate) is cut
MAX_JOINED = 3  # passages laid out together at most, when one does not fit its cues

# what a way of cutting a passage's translated words into its cues costs (lower is better)
POSITION_COST = 0.15  # per character between a cut and where the source's cut falls, in proportion
SPEED_COST = 40.0  # times the share by which a cue's text is over its reading time
OVERFLOW_COST = 200.0  # per line a cue needs beyond max_lines
EMPTY_COST = 1000.0  # a cue left without words
GROUP_SLACK = 2  # a cue holds at most this many times a full cue's characters (or its share twice)

DIALOGUE_DASHES = ("-", "\u2013", "\u2014")


@dataclass(frozen=True, kw_only=True, slots=True)
class Slot:
    """A cue translated words are laid into: how long it shows (None: untimed text) and how many
    characters of the source it held (its share of the passage)."""

    seconds: float | None
    chars: int


def is_dialogue(lines: Sequence[str]) -> bool:
    """Lines of two speakers, each opened by a dash ("- Where?" / "- Here."): they stay lines."""
    return len(lines) > 1 and all(line.lstrip().startswith(DIALOGUE_DASHES) for line in lines if line.strip())


def passages(texts: Sequence[str], limit: int = MAX_PASSAGE_CUES) -> list[range]:
    """The cues (their texts) in runs that hold whole sentences: a run ends with a cue whose text ends a
    sentence, before and after a cue of dialogue, and after `limit` cues at the cheapest break."""
    runs: list[range] = []
    start = 0
    words = [text.split() for text in texts]
    for index, text in enumerate(texts):
        dialogue = is_dialogue(text.split("\n"))
        if dialogue and start < index:
            runs.append(range(start, index))
            start = index
        following = next((w[0] for w in words[index + 1 :] if w), "")
        ended = not words[index] or ends_sentence(words[index][-1], following) or dialogue
        nxt = index + 1 < len(texts) and is_dialogue(texts[index + 1].split("\n"))
        if ended or nxt or index == len(texts) - 1:
            runs.append(range(start, index + 1))
            start = index + 1
        elif index + 1 - start >= limit:
            cut = min(range(start, index + 1), key=lambda k: (_cue_break(words, k), -k))
            runs.append(range(start, cut + 1))
            start = cut + 1
    return runs


def _cue_break(words: Sequence[Sequence[str]], k: int) -> int:
    """How bad it is to end a passage after cue k."""
    following = next((w[0] for w in words[k + 1 :] if w), "")
    return break_cost(words[k][-1], following) if words[k] and following else 0


def match_start_case(source: str, translated: str) -> str:
    """The translation of a passage that starts inside a sentence (the source starts lower-case)
    starts lower-case too: engines capitalise the first word of every text they are given."""
    first = source.lstrip()[:1]
    if first.isalpha() and first.islower():
        stripped = translated.lstrip()
        head = stripped[:1]
        if head.isupper() and not stripped[1:2].isupper():  # not an acronym ("UN", "EEUU")
            return translated[: len(translated) - len(stripped)] + head.lower() + stripped[1:]
    return translated


def lay_out(
    text: str, slots: Sequence[Slot], limits: CueLimits, language: str | None = "en"
) -> list[tuple[str, ...]]:
    """The words of `text` (in `language`) cut into `len(slots)` cues as the module docstring says,
    each wrapped."""
    words = text.split()
    count = len(slots)
    if count == 0:
        return []
    if count == 1:
        return [wrap_lines(words, limits, language)]
    cuts = _cuts(words, slots, limits, break_costs(words, language))
    return [wrap_lines(words[a:b], limits, language) for a, b in cuts]


def lay_out_passages(
    texts: Sequence[str], slots: Sequence[Sequence[Slot]], limits: CueLimits, language: str | None = "en"
) -> list[list[tuple[str, ...]]]:
    """Consecutive passages' translated `texts`, each laid into its `slots` (`lay_out`). A passage
    whose text does not fit its cues (a cue over `max_lines`, or read faster than allowed) is laid
    out together with the passages after it (up to MAX_JOINED), so what does not fit moves into their
    room: a cue may then hold the end of one sentence and the start of the next."""
    out: list[list[tuple[str, ...]]] = []
    first = 0
    while first < len(texts):
        last = first + 1
        while True:
            window = [slot for group in slots[first:last] for slot in group]
            laid = lay_out(" ".join(texts[first:last]), window, limits, language)
            if last >= len(texts) or last - first >= MAX_JOINED or _fit(laid, window, limits):
                break
            last += 1
        for group in slots[first:last]:
            out.append(laid[: len(group)])
            laid = laid[len(group) :]
        first = last
    return out


def _fit(laid: Sequence[tuple[str, ...]], slots: Sequence[Slot], limits: CueLimits) -> bool:
    for lines, slot in zip(laid, slots, strict=True):
        chars = len(" ".join(lines))
        if len(lines) > limits.max_lines:
            return False
        if slot.seconds is not None and chars > slot.seconds * limits.max_chars_per_second:
            return False
    return True


def wrap_lines(words: Sequence[str], limits: CueLimits, language: str | None) -> tuple[str, ...]:
    """`words` on lines of at most `max_line_chars` (unless one word is longer): balanced and broken
    where breaks.py says when they fit `max_lines`, else filled line by line (more lines than a cue
    should have: its text did not fit anywhere else)."""
    if not words:
        return ("",)
    if _line_count(words, limits.max_line_chars) <= limits.max_lines:
        return wrap(words, limits, language)
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= limits.max_line_chars:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return tuple(lines)


def _cuts(
    words: Sequence[str], slots: Sequence[Slot], limits: CueLimits, costs: Sequence[int]
) -> list[tuple[int, int]]:
    n, m = len(words), len(slots)
    width, capacity = limits.max_line_chars, limits.max_line_chars * limits.max_lines
    ends = [0] * (n + 1)  # ends[k]: characters of words[:k] and the space after each
    for k, word in enumerate(words):
        ends[k + 1] = ends[k] + len(word) + 1
    total = max(1, ends[n] - 1)
    source = max(1, sum(s.chars for s in slots))
    targets, running = [], 0  # where each source cut falls, in the translation's characters
    for slot in slots:
        running += slot.chars
        targets.append(total * running / source)
    most = max(GROUP_SLACK * capacity, 2 * total // m + capacity)  # no cue holds more than this

    def group_cost(j: int, a: int, b: int, lines: int) -> float:
        """Words a..b in cue j, on `lines` lines."""
        if b == a:
            return EMPTY_COST
        chars = ends[b] - ends[a] - 1
        cost = 0.0
        if lines > limits.max_lines:
            cost += OVERFLOW_COST * (lines - limits.max_lines)
        seconds = slots[j].seconds
        if seconds is not None:
            allowed = max(seconds, 0.001) * limits.max_chars_per_second
            if chars > allowed:
                cost += SPEED_COST * (chars - allowed) / allowed
        if j < m - 1:
            cost += POSITION_COST * abs(ends[b] - targets[j])
            if 0 < b < n:
                cost += costs[b - 1]
        return cost

    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(m + 1)]
    back = [[0] * (n + 1) for _ in range(m + 1)]
    best[0][0] = 0.0
    for j in range(m):
        for b in range(n + 1) if j < m - 1 else (n,):  # the last cue ends with the last word
            # the group grows leftwards from b; lines filled from its end (as few as greedy filling
            # from the start needs), kept as it grows: `lines`, and `room` used on the first line
            a, lines, room = b, 0, 0
            while True:
                if best[j][a] < inf:
                    cost = best[j][a] + group_cost(j, a, b, lines)
                    if cost < best[j + 1][b]:
                        best[j + 1][b], back[j + 1][b] = cost, a
                if a == 0 or (a < b and ends[b] - ends[a - 1] - 1 > most):  # one word always fits
                    break
                a -= 1
                size = len(words[a])
                if lines and room + 1 + size <= width:
                    room += 1 + size
                else:
                    lines, room = lines + 1, size
    cuts, b = [], n
    for j in range(m, 0, -1):
        a = back[j][b]
        cuts.append((a, b))
        b = a
    return cuts[::-1]


def _line_count(words: Sequence[str], width: int) -> int:
    lines, line = 0, -1
    for word in words:
        if line >= 0 and line + 1 + len(word) <= width:
            line += 1 + len(word)
        else:
            lines, line = lines + 1, len(word)
    return lines


__all__ = [
    "MAX_JOINED",
    "MAX_PASSAGE_CUES",
    "Slot",
    "is_dialogue",
    "lay_out",
    "lay_out_passages",
    "match_start_case",
    "passages",
    "wrap_lines",
]
