"""Subtitle line breaks on long sentences: orphan cues and mid-phrase endings, before and after (issue 24).

    .venv/bin/python -m bench.subtitle_breaks            # prints the figures
    .venv/bin/python -m bench.subtitle_breaks --write    # and records them in docs/benchmarks.md

The transcript is generated here, deterministically (`--seed`): English-like long sentences (clauses
joined by conjunctions, prepositional phrases, names such as "Dr. Okafor" or "New York", numbers with
their units), now and then a short reply ("Right."), each word timed by its length, with the gaps of
real speech (short between words, longer after commas and sentences, a hesitation now and then). It is
shaped into cues at the defaults (42 characters, 2 lines, 7 s) and at a common mobile setting (32
characters, 2 lines, 4 s) by today's `shape_cues` and by the algorithm before issue 24 (a frozen copy
below, `baseline_cues`), in the same run.

Counted per 100 cues:
- orphans: cues of one or two words. A cue whose words are a whole stretch of speech between two
  pauses (`CueLimits.pause_seconds`) is "forced" (nothing may join it) and reported apart;
- mid-phrase endings: a cue that ends on a word after which the phrase obviously goes on (an article,
  a preposition, a conjunction, a possessive, an auxiliary verb, a title, a number before its unit, a
  first name before a surname), unless a pause ends the cue there;
- the same for the break between the two lines of a cue, and how balanced those lines are (the shorter
  line's length over the longer one's, mean).
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mediajobs.engines import Segment, Transcript, Word
from mediajobs.subtitles import Cue, CueLimits, shape_cues

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
SETTINGS = {"defaults (42 chars, 2 lines, 7 s)": CueLimits(), "mobile (32 chars, 2 lines, 4 s)": CueLimits(
    max_line_chars=32, max_cue_seconds=4.0
)}  # fmt: skip

# -- the generator --------------------------------------------------------------------------------------

FIRST_NAMES = ["Maria", "James", "Anna", "David", "Sofia", "Thomas", "Elena", "Samuel", "Laura", "Daniel"]
SURNAMES = ["Lopez", "Whitfield", "Okafor", "Brennan", "Castillo", "Novak", "Harrington", "Lindqvist"]
TITLES = ["Dr.", "Mr.", "Mrs.", "Professor"]
PLACES = ["New York", "San Francisco", "Buenos Aires", "Lake Geneva", "Cape Town", "Hong Kong", "Paris"]
UNITS = ["kilometres", "miles", "minutes", "hours", "percent", "dollars", "euros", "degrees", "people"]
NUMBERS = ["12", "3.5", "1,200", "45", "250", "7", "two", "three", "forty", "ninety", "18", "600"]
DETERMINERS = ["the", "the", "a", "our", "their", "my", "his", "this", "every"]
ADJECTIVES = ["old", "new", "small", "local", "quiet", "narrow", "annual", "final", "main", "public", "busy"]


def _words(text: str) -> list[str]:
    return text.split()


NOUNS = _words(
    "bridge report budget station market river committee project garden museum school harbour road village "
    "festival meeting hospital library storm season tunnel orchestra"
)
VERBS = [  # base, past participle, present participle
    ("visit", "visited", "visiting"), ("build", "built", "building"), ("repair", "repaired", "repairing"),
    ("close", "closed", "closing"), ("open", "opened", "opening"), ("inspect", "inspected", "inspecting"),
    ("describe", "described", "describing"), ("finish", "finished", "finishing"),
    ("cross", "crossed", "crossing"), ("plan", "planned", "planning"), ("move", "moved", "moving"),
]  # fmt: skip
AUXILIARIES = [("will", 0), ("has", 1), ("had", 1), ("was", 2), ("could not", 0), ("decided to", 0),
               ("is going to", 0), ("", 1), ("", 1), ("would", 0), ("might have", 1)]  # fmt: skip
CONJUNCTIONS = ["and", "but", "because", "while", "so", "although", "when", "and then", "until"]
INTRODUCTIONS = ["Last year,", "In the morning,", "After the storm,", "According to the report,",
                 "At the end of the season,", "Two weeks later,", "Meanwhile,"]  # fmt: skip
REPLIES = ["Yes.", "Right.", "Of course.", "Thank you.", "Exactly.", "No.", "I see."]
PREPOSITIONS = ["near", "in", "at", "behind", "across", "from", "under", "through", "beside", "with"]


def _noun_phrase(rng: random.Random) -> str:
    adjective = f"{rng.choice(ADJECTIVES)} " if rng.random() < 0.5 else ""
    return f"{rng.choice(DETERMINERS)} {adjective}{rng.choice(NOUNS)}"


def _name(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
    if roll < 0.7:
        return f"{rng.choice(TITLES)} {rng.choice(SURNAMES)}"
    return rng.choice(FIRST_NAMES)


def _phrase(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.3:
        return f"in {rng.choice(PLACES)}"
    if roll < 0.55:
        preposition = rng.choice(["for", "with", "about", "after", "over"])
        return f"{preposition} {rng.choice(NUMBERS)} {rng.choice(UNITS)}"
    if roll < 0.7:
        return f"at the end of {_noun_phrase(rng)}"
    return f"{rng.choice(PREPOSITIONS)} {_noun_phrase(rng)}"


def _clause(rng: random.Random) -> str:
    roll = rng.random()
    subject = _name(rng) if roll < 0.35 else rng.choice(["we", "they", "she", "he"]) if roll < 0.6 else (
        _noun_phrase(rng)
    )  # fmt: skip
    auxiliary, form = rng.choice(AUXILIARIES)
    verb = rng.choice(VERBS)[form]
    parts = [subject, auxiliary, verb, _noun_phrase(rng) if rng.random() < 0.6 else _name(rng)]
    parts += [_phrase(rng) for _ in range(rng.choice([0, 1, 1, 2]))]
    if rng.random() < 0.15:
        parts += ["with", _name(rng)]
    return " ".join(p for p in parts if p)


def sentence(rng: random.Random) -> str:
    """One long English-like sentence (sometimes a short reply)."""
    if rng.random() < 0.1:
        return rng.choice(REPLIES)
    text = f"{rng.choice(INTRODUCTIONS)} " if rng.random() < 0.25 else ""
    text += _clause(rng)
    for _ in range(rng.choice([1, 1, 2, 2, 3])):
        comma = "," if rng.random() < 0.4 else ""
        text += f"{comma} {rng.choice(CONJUNCTIONS)} {_clause(rng)}"
    if rng.random() < 0.2:
        text += f", which {rng.choice(['surprised', 'worried', 'pleased'])} {_noun_phrase(rng)}"
    text = text[0].upper() + text[1:]
    return text + ("?" if rng.random() < 0.08 else ".")


def _seconds(word: str, rng: random.Random) -> float:
    """How long a word takes to say: about 0.12 s plus 45 ms a letter (a number by its digits)."""
    digits = sum(ch.isdigit() for ch in word)
    spoken = 0.22 + 0.13 * digits if digits else 0.12 + 0.045 * sum(ch.isalpha() for ch in word)
    return spoken * rng.uniform(0.85, 1.15)


def transcript(seed: int, minutes: float) -> Transcript:
    """`minutes` of generated speech: one segment per sentence, every word timed."""
    rng = random.Random(seed)
    segments, at = [], 0.5
    while at < minutes * 60:
        words = []
        for token in sentence(rng).split():
            length = _seconds(token, rng)
            words.append(Word(start=round(at, 3), end=round(at + length, 3), word=" " + token))
            at += length
            if token.endswith((",", ";")):
                at += rng.uniform(0.12, 0.45)
            elif rng.random() < 0.03:  # a hesitation inside a phrase, shorter than a pause
                at += rng.uniform(0.2, 0.5)
            else:
                at += rng.uniform(0.0, 0.08)
        at += rng.uniform(0.2, 1.1)  # between sentences: sometimes a pause that ends a cue
        text = " ".join(w.word.strip() for w in words)
        segments.append(Segment(start=words[0].start, end=words[-1].end, text=text, words=tuple(words)))
    return Transcript(language="en", duration=round(at + 1.0, 3), segments=tuple(segments))


# -- the measures ---------------------------------------------------------------------------------------

OPENERS = set(
    _words(
        "a an the of in on at to for with from by about into onto over under after before between through "
        "during without within near across along around behind beside beyond toward towards upon against "
        "among since until per and but or nor so yet because although though while whereas if unless when "
        "where whether that which who my your his her its our their am is are was were be been being have "
        "has had do does did will would shall should can could may might must not every"
    )
)
_NUMBER = re.compile(r"^[$€£]?\d[\d,.]*%?$")


def mid_phrase(word: str, following: str) -> bool:
    """Whether a break between `word` and `following` leaves a phrase obviously unfinished."""
    if word in TITLES:
        return True
    if word[-1] in ",.;:?!":
        return False
    if word.lower() in OPENERS:
        return True
    if (_NUMBER.match(word) or word in NUMBERS) and following.lower().strip(",.?") in UNITS:
        return True
    if word in FIRST_NAMES and following.strip(",.?") in SURNAMES:
        return True
    return any(place.startswith(f"{word} {following}") for place in PLACES)


@dataclass(frozen=True, kw_only=True, slots=True)
class Figures:
    cues: int
    orphans: int  # one or two words, not forced
    forced: int  # one or two words between two pauses
    mid_phrase: int
    line_mid_phrase: int
    balance: float  # shorter line / longer line, mean over two-line cues
    seconds: float

    def per_100(self, count: int) -> str:
        return f"{100 * count / max(self.cues, 1):.1f}"


def measure(shape: Callable[[Transcript, CueLimits], list[Cue]], t: Transcript, limits: CueLimits) -> Figures:
    words = [w for s in t.segments for w in s.words]
    texts = [w.word.strip() for w in words]
    started = time.perf_counter()
    cues = shape(t, limits)
    took = time.perf_counter() - started

    def paused(index: int) -> bool:  # a pause (or the end) after words[index]
        last = index + 1 >= len(words)
        return last or words[index + 1].start - words[index].end >= limits.pause_seconds

    orphans = forced = ends = line_ends = 0
    balances = []
    at = 0
    for cue in cues:
        said = " ".join(cue.lines).split()
        while texts[at : at + len(said)] != said:  # a cue the shaper dropped as unreadable
            at += 1
        first, last = at, at + len(said) - 1
        at += len(said)
        if len(said) <= 2:
            if (first == 0 or paused(first - 1)) and paused(last):
                forced += 1
            else:
                orphans += 1
        if not paused(last) and mid_phrase(texts[last], texts[last + 1]):
            ends += 1
        if len(cue.lines) == 2:
            top, bottom = cue.lines
            line_ends += mid_phrase(top.split()[-1], bottom.split()[0])
            balances.append(min(len(top), len(bottom)) / max(len(top), len(bottom)))
    return Figures(
        cues=len(cues),
        orphans=orphans,
        forced=forced,
        mid_phrase=ends,
        line_mid_phrase=line_ends,
        balance=sum(balances) / max(len(balances), 1),
        seconds=took,
    )


# -- the report -----------------------------------------------------------------------------------------


def report(args: argparse.Namespace) -> str:
    t = transcript(args.seed, args.minutes)
    words = sum(len(s.words) for s in t.segments)
    rows = []
    results: dict[str, dict[str, Figures]] = {}
    for setting, limits in SETTINGS.items():
        for name, shape in (("before", baseline_cues), ("after", shape_cues)):
            f = measure(shape, t, limits)
            results.setdefault(setting, {})[name] = f
            rows.append(
                f"| {setting} | {name} | {f.cues} | **{f.per_100(f.orphans)}** | {f.forced} | "
                f"**{f.per_100(f.mid_phrase)}** | {f.per_100(f.line_mid_phrase)} | {f.balance:.2f} | "
                f"{1000 * f.seconds / words * 1000:.0f} ms |"
            )
    after = [r["after"] for r in results.values()]
    met = "met" if all(f.orphans == 0 for f in after) else "**NOT met**"
    return "\n".join(
        [
            f"Command: `.venv/bin/python -m bench.subtitle_breaks --seed {args.seed} --minutes "
            f"{args.minutes:g}` ({datetime.now(UTC).date()}): {len(t.segments)} generated sentences, "
            f"{words} words, "
            f"{t.duration / 60:.0f} minutes of speech (see the script's docstring for the generator).",
            "",
            "| setting | algorithm | cues | orphans / 100 cues | forced orphans (count) | mid-phrase endings "
            "/ 100 cues | mid-phrase line breaks / 100 cues | line balance | time per 1000 words |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f'Target (issue 24): no orphan cue where the timing allows it: {met}. "before" is the greedy '
            'algorithm before issue 24 (a frozen copy in the script), "after" is `shape_cues` now, same '
            'transcript, same run. A forced orphan is a reply such as "Right." with a pause before and '
            "after it: a pause always ends a cue, so nothing may join it.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--minutes", type=float, default=180.0, help="of generated speech")
    parser.add_argument("--write", action="store_true", help="record the figures in docs/benchmarks.md")
    args = parser.parse_args(argv)
    table = report(args)
    print(table)
    if args.write:
        from .sections import write_section

        write_section(DOC, "subtitle-breaks", "Subtitle line breaks on long sentences (issue 24)", table)


# -- the baseline: shape.py's grouping and wrapping before issue 24 (commit 81e876c), frozen -------------

SENTENCE_END = (".", "?", "!", "…", '."', '?"', '!"')
CLAUSE_END = (",", ";", ":", "—")
PUNCTUATION_BONUS = 8


@dataclass(frozen=True, slots=True)
class _Token:
    start: float
    end: float
    text: str


def baseline_cues(transcript: Transcript, limits: CueLimits) -> list[Cue]:
    """`shape_cues` as it was (words already clean: no lone punctuation in the generated transcripts)."""
    tokens = [_Token(w.start, w.end, w.word.strip()) for s in transcript.segments for w in s.words]
    return _time(_group(tokens, limits), limits, transcript.duration)


def _group(tokens: Sequence[_Token], limits: CueLimits) -> list[list[_Token]]:
    groups: list[list[_Token]] = []
    current: list[_Token] = []
    for token in tokens:
        if current and _must_break(current, token, limits):
            keep, carry = _split_point(current, token, limits)
            groups.append(keep)
            current = carry
        current.append(token)
        if current[-1].text.endswith(SENTENCE_END) and _long_enough(current, limits):
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
    return not _fits([t.text for t in [*current, token]], limits)


def _split_point(
    current: list[_Token], token: _Token, limits: CueLimits
) -> tuple[list[_Token], list[_Token]]:
    paused = token.start - current[-1].end >= limits.pause_seconds
    if not paused:
        for i in range(len(current) - 1, len(current) // 3 - 1, -1):
            if i < 1 or not current[i - 1].text.endswith(CLAUSE_END + SENTENCE_END):
                continue
            rest = [*current[i:], token]
            duration_ok = rest[-1].end - rest[0].start <= limits.max_cue_seconds
            if duration_ok and _fits([t.text for t in rest], limits):
                return current[:i], current[i:]
    return current, []


def _long_enough(current: list[_Token], limits: CueLimits) -> bool:
    chars = len(" ".join(t.text for t in current))
    return current[-1].end - current[0].start >= limits.min_cue_seconds or chars >= limits.max_line_chars // 2


def _fits(words: Sequence[str], limits: CueLimits) -> bool:
    return len(_greedy_lines(words, limits.max_line_chars)) <= limits.max_lines


def _wrap(words: Sequence[str], limits: CueLimits) -> tuple[str, ...]:
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
    if lines == 1:
        yield ()
        return
    for first in range(1, n - lines + 2):
        for rest in _break_sets(n - first, lines - 1):
            yield (first, *(first + r for r in rest))


def _time(groups: list[list[_Token]], limits: CueLimits, duration: float) -> list[Cue]:
    bound = duration if duration > 0 else max((g[-1].end for g in groups), default=0.0)
    longest = limits.max_cue_seconds
    spans = [
        [min(g[0].start, bound), min(max(g[-1].end, g[0].start), bound, g[0].start + longest)] for g in groups
    ]
    for i in range(1, len(spans)):
        spans[i][0] = max(spans[i][0], spans[i - 1][1])
        spans[i][1] = max(spans[i][1], spans[i][0])
    needs = [_needed(g, limits) for g in groups]
    for i, span in enumerate(spans):
        later = spans[i + 1][0] if i + 1 < len(spans) else bound
        span[1] = max(span[1], min(span[0] + needs[i], later))
        if span[1] - span[0] < needs[i]:
            earlier = spans[i - 1][1] if i > 0 else 0.0
            span[0] = max(earlier, min(span[0], span[1] - needs[i]))
        if i > 0 and span[1] - span[0] < needs[i]:
            before = spans[i - 1]
            boundary = max(before[0] + min(needs[i - 1], before[1] - before[0]), span[1] - needs[i])
            if boundary < span[0]:
                before[1] = span[0] = boundary
    return [
        Cue(start=round(start, 3), end=round(end, 3), lines=_wrap([t.text for t in group], limits))
        for group, need, (start, end) in zip(groups, needs, spans, strict=True)
        if end - start >= need / 2
    ]


def _needed(group: list[_Token], limits: CueLimits) -> float:
    chars = len(" ".join(t.text for t in group))
    return min(limits.max_cue_seconds, max(limits.min_cue_seconds, chars / limits.max_chars_per_second))


if __name__ == "__main__":
    main()
