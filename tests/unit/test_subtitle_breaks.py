"""Where cues and lines break: breaks.py's costs, and shape_cues on generated speech it was not tuned on.

The generator here is not bench/subtitle_breaks.py's: other words, other sentence shapes, another
timing model and seed, and its own judgement of an orphan and of a mid-phrase ending.
"""

from __future__ import annotations

import random
import re

import pytest

from mediajobs.engines import Segment, Transcript, Word
from mediajobs.subtitles import CueLimits, shape_cues
from mediajobs.subtitles.breaks import (
    AFTER_CLAUSE,
    AFTER_SENTENCE,
    BEFORE_CONJUNCTION,
    BEFORE_PREPOSITION,
    INSIDE_NAME,
    MID_PHRASE,
    ORDINARY,
    break_cost,
    ends_sentence,
)

PAUSE = CueLimits().pause_seconds
SETTINGS = [CueLimits(), CueLimits(max_line_chars=32, max_cue_seconds=4.0)]

PEOPLE = [("Oliver", "Grant"), ("Priya", "Natarajan"), ("Lucas", "Moreau"), ("Hannah", "Schmidt")]
TITLED = ["Ms. Keller", "Dr. Ferreira", "Mr. Tanaka"]
PLACES = ["Los Angeles", "Mexico City", "Tel Aviv", "Kuala Lumpur", "Berlin"]
AMOUNTS = [("20", "kilograms"), ("five", "litres"), ("90", "seconds"), ("2.5", "metres"), ("300", "euros"),
           ("eleven", "days"), ("1,500", "tonnes")]  # fmt: skip
VERBS = ["had been waiting for", "should have noticed", "couldn't find", "were carrying", "sold",
         "will remember", "has forgotten", "kept", "can't afford", "might bring"]  # fmt: skip
THINGS = ["a heavy suitcase", "the second envelope", "her brother's bicycle", "an old photograph",
          "the broken window", "their neighbour's car", "my grandmother's recipe", "the parcel"]  # fmt: skip
PLACES_PHRASES = ["into the station", "beneath the bridge", "throughout the winter", "onto the roof",
                  "towards the coast", "by the fountain"]  # fmt: skip
LINKS = ["and", "or", "but", "since", "unless", "whereas", ", and", ", while", ", so that", "until"]
ASIDES = ["Okay.", "Sure, yes.", "Hmm.", "Not really.", "Fine."]


def _subject(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.3:
        return " ".join(rng.choice(PEOPLE))
    if roll < 0.5:
        return rng.choice(TITLED)
    return rng.choice(["the engineers", "my cousin", "nobody", "the driver", "you", "they"])


def _extra(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        amount, unit = rng.choice(AMOUNTS)
        return f"{rng.choice(['with', 'for', 'after', 'over'])} {amount} {unit}"
    if roll < 0.6:
        return f"{rng.choice(['in', 'near', 'outside', 'from'])} {rng.choice(PLACES)}"
    if roll < 0.8:
        return rng.choice(PLACES_PHRASES)
    return f"for {' '.join(rng.choice(PEOPLE))}"


def _sentence(rng: random.Random) -> str:
    if rng.random() < 0.12:
        return rng.choice(ASIDES)
    parts = []
    for n in range(rng.randint(2, 4)):
        if n:
            parts.append(rng.choice(LINKS))
        parts += [_subject(rng), rng.choice(VERBS), rng.choice(THINGS)]
        parts += [_extra(rng) for _ in range(rng.randint(0, 2))]
    text = " ".join(parts).replace(" ,", ",")
    return text[0].upper() + text[1:] + rng.choice([".", ".", ".", "!"])


def _syllables(word: str) -> int:
    return max(1, len(re.findall(r"[aeiouy]+", word.lower())))


def generated(seed: int = 11, minutes: float = 20.0) -> Transcript:
    rng = random.Random(seed)
    pace = 1.0
    segments, at = [], 1.0
    while at < minutes * 60:
        if rng.random() < 0.1:
            pace = rng.uniform(0.85, 1.25)  # another speaker
        words = []
        for token in _sentence(rng).split():
            digits = sum(c.isdigit() for c in token)
            length = (0.2 + 0.14 * digits if digits else 0.09 + 0.11 * _syllables(token)) * pace
            words.append(Word(start=round(at, 3), end=round(at + length, 3), word=" " + token))
            at += length + (rng.uniform(0.2, 0.5) if token.endswith(",") else min(rng.expovariate(25), 0.3))
        at += rng.uniform(0.15, 0.9)
        text = " ".join(w.word.strip() for w in words)
        segments.append(Segment(start=words[0].start, end=words[-1].end, text=text, words=tuple(words)))
    return Transcript(language="en", duration=at + 2, segments=tuple(segments))


OPENING = frozenset(
    str.split(
        "a an the of to in into onto for with from at by beneath towards throughout near outside over after "
        "and or but since unless whereas while so that until my her his their its our your had has have "
        "been should could couldn't can't were was is are will would might"
    )
)
FIRST_NAMES = {first for first, _ in PEOPLE}
UNITS = {unit for _, unit in AMOUNTS}


def _unfinished(word: str, following: str) -> bool:
    """This test's own judgement: the phrase obviously goes on after `word`."""
    bare = following.strip(".,!")
    if word in {"Ms.", "Dr.", "Mr."}:
        return True
    if word[-1] in ".,!?":
        return False
    return (
        word.lower() in OPENING
        or word.endswith("'s")
        or (bare in UNITS and any(word == amount for amount, _ in AMOUNTS))
        or (word in FIRST_NAMES and bare[:1].isupper())
        or f"{word} {bare}" in PLACES
    )


def _figures(t: Transcript, limits: CueLimits) -> tuple[int, int, int, float]:
    """(cues, avoidable orphans, mid-phrase endings not at a pause, line balance): the balance is the
    shorter line's length over the longer one's, on average over the two-line cues."""
    words = [w for s in t.segments for w in s.words]
    texts = [w.word.strip() for w in words]
    cues = shape_cues(t, limits)
    assert " ".join(c.text.replace("\n", " ") for c in cues).split() == texts  # no word lost or moved

    def pause_after(k: int) -> bool:
        return k + 1 == len(words) or words[k + 1].start - words[k].end >= PAUSE

    orphans = unfinished = at = 0
    balances = [min(map(len, c.lines)) / max(map(len, c.lines)) for c in cues if len(c.lines) == 2]
    for cue in cues:
        count = len(cue.text.split())
        first, last = at, at + count - 1
        at += count
        if count <= 2 and not ((first == 0 or pause_after(first - 1)) and pause_after(last)):
            orphans += 1
        if not pause_after(last) and _unfinished(texts[last], texts[last + 1]):
            unfinished += 1
    return len(cues), orphans, unfinished, sum(balances) / len(balances)


@pytest.mark.parametrize("limits", SETTINGS, ids=["defaults", "32-chars-4-s"])
def test_generated_long_sentences_leave_no_orphan_and_few_mid_phrase_endings(limits: CueLimits) -> None:
    cues, orphans, unfinished, balance = _figures(generated(), limits)
    assert cues > 200
    assert orphans == 0
    assert unfinished * 100 / cues <= 5.0, (unfinished, cues)
    assert balance >= 0.7


@pytest.mark.parametrize(
    ("word", "following", "cost"),
    [
        ("home.", "Then", AFTER_SENTENCE),
        ("really?", "yes", AFTER_SENTENCE),
        ("Dr.", "Smith", INSIDE_NAME),
        ("J.", "Smith", INSIDE_NAME),
        ("New", "York", INSIDE_NAME),
        ("Maria", "Lopez.", INSIDE_NAME),
        ("12", "kilometres", INSIDE_NAME),
        ("3.5", "million", INSIDE_NAME),
        ("forty", "minutes", INSIDE_NAME),
        ("tired,", "and", AFTER_CLAUSE),
        ("left", "and", BEFORE_CONJUNCTION),
        ("left", "because", BEFORE_CONJUNCTION),
        ("walked", "into", BEFORE_PREPOSITION),
        ("outside", "to", BEFORE_PREPOSITION),  # "ran outside | to play": an adverb, not a preposition
        ("outside", "the", MID_PHRASE),
        ("the", "house", MID_PHRASE),
        ("into", "the", MID_PHRASE),
        ("and", "then", MID_PHRASE),
        ("their", "car", MID_PHRASE),
        ("would", "go", MID_PHRASE),
        ("brother's", "car", MID_PHRASE),
        ("walked", "home", ORDINARY),
        ("In", "Paris", MID_PHRASE),  # a preposition, not part of the name
        ("Tuesday", "I", ORDINARY),  # "I" starts no name
        ("2019", "we", ORDINARY),  # a year, no unit
    ],
)
def test_break_costs(word: str, following: str, cost: int) -> None:
    assert break_cost(word, following) == cost


def test_abbreviations_do_not_end_sentences() -> None:
    assert not ends_sentence("Dr.", "Smith")
    assert not ends_sentence("e.g.", "bread")
    assert ends_sentence("bread.", "Then")
    assert ends_sentence("done!", "and")
