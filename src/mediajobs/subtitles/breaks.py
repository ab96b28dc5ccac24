"""Where a subtitle may break between two words, and how badly: the phrase rules subtitle editors follow.

A break (the end of a cue, or of a line inside one) is best after a sentence, then after a clause
(comma, semicolon, colon, dash), then before a conjunction or a preposition; it is poorer between two
other words, poorer still after a subject pronoun ("we | will go"), bad after a word that opens a phrase
(an article, a preposition, a conjunction, a possessive, an auxiliary verb, "to", "not": "before the |
weekend"), and all but forbidden inside a name (capitalised words: "Dr. Smith", "New York") or between
a number and its unit ("12 km", "three hours"). The function words are the language's (words.py:
English, and the translation targets Spanish, Portuguese, Galician, Catalan, French); in other
languages the punctuation, name and number rules still hold. Pure functions over the words' text.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from .words import ENGLISH, Vocabulary, vocabulary

SENTENCE_END = (".", "?", "!", "…", '."', '?"', '!"')
CLAUSE_END = (",", ";", ":", "\u2014", "\u2013")  # and the em and en dashes

# what a break after a word costs (cue shaping and line wrapping add these up; lower is better)
AFTER_SENTENCE = 0
AFTER_CLAUSE = 2
BEFORE_CONJUNCTION = 3
BEFORE_PREPOSITION = 4
ORDINARY = 6
AFTER_SUBJECT = 8
MID_PHRASE = 16
INSIDE_NAME = 50  # also a number and its unit


_ENGLISH_TITLES = "mr mrs ms dr prof st mt jr sr gen col capt lt sgt rev fr hon gov sen rep pres"
TITLES = frozenset(f"{_ENGLISH_TITLES} sra srta dra dña mme mlle".split())  # and Romance languages'

_NUMBER = re.compile(r"^[$€£¥]?\d[\d,.:]*(%|st|nd|rd|th|s)?$")
_CLOSING = "\"')]\u00bb\u201d\u2019"  # closing quotes and brackets after a word's punctuation


def break_costs(words: Sequence[str], language: str | None = "en") -> list[int]:
    """`costs[k]`: how bad a break between `words[k]` and `words[k + 1]` is (0 after the last word),
    with the function words of `language` (words.py)."""
    known = vocabulary(language)
    costs = [break_cost(a, b, known) for a, b in itertools.pairwise(words)]
    return [*costs, AFTER_SENTENCE] if words else []


def break_cost(word: str, following: str, known: Vocabulary = ENGLISH) -> int:
    """How bad a break between `word` and the `following` one is (the constants above)."""
    bare = word.rstrip(_CLOSING)
    if _ends_sentence(word, bare, following):
        return AFTER_SENTENCE
    if bare.endswith(CLAUSE_END):
        return AFTER_CLAUSE
    if _title(bare) or _joins_name(bare, following, known) or _joins_unit(bare, following, known):
        return INSIDE_NAME
    lower, next_lower = bare.lower(), following.lower()
    adverb = lower in known.prepositions and next_lower in known.adverb_before  # "ran outside | to play"
    contracted = bool(known.contractions) and lower.endswith(known.contractions)
    if (lower in known.openers or contracted) and not adverb:
        return MID_PHRASE
    if next_lower in known.conjunctions:
        return BEFORE_CONJUNCTION
    if next_lower in known.prepositions:
        return BEFORE_PREPOSITION
    if lower in known.subjects:
        return AFTER_SUBJECT
    return ORDINARY


def _ends_sentence(word: str, bare: str, following: str) -> bool:
    if not word.endswith(SENTENCE_END):
        return False
    if bare.endswith(("?", "!", "…")):
        return True
    # "Dr. Smith", "J. Smith", "e.g. this", "3 p.m. today": a full stop that a sentence does not follow
    return not (_title(bare) or (following[:1].islower() and len(bare) > 1 and "." in bare[:-1]))


def _title(bare: str) -> bool:
    """A title ("Dr.", "Mrs.") or an initial ("J."): a name follows."""
    if not bare.endswith("."):
        return False
    stem = bare[:-1]
    return stem.lower() in TITLES or (len(stem) == 1 and stem.isupper())


def _joins_name(bare: str, following: str, known: Vocabulary) -> bool:
    """Two capitalised words of one name: "Maria Lopez", "New York" (not "The Hague", not "Then I")."""
    if bare != bare.rstrip(".,;:?!…") or not (bare[:1].isupper() and following[:1].isupper()):
        return False
    names = known.not_a_name
    return bare.lower() not in names and following.lower().rstrip(_CLOSING + ".,;:?!…") not in names


def _joins_unit(bare: str, following: str, known: Vocabulary) -> bool:
    """A number and the word it counts or measures: "12 km", "3.5 million", "forty minutes"."""
    number = bool(_NUMBER.match(bare)) or bare.lower() in known.number_words
    if not number or not following[:1].isalpha() or not following[:1].islower():
        return False
    return following.lower().rstrip(_CLOSING + ".,;:?!…") not in known.not_a_name


def ends_sentence(word: str, following: str) -> bool:
    """Whether `word` ends a sentence when `following` comes next ("Dr." before "Smith" does not)."""
    return _ends_sentence(word, word.rstrip(_CLOSING), following)


__all__ = [
    "AFTER_CLAUSE",
    "AFTER_SENTENCE",
    "AFTER_SUBJECT",
    "BEFORE_CONJUNCTION",
    "BEFORE_PREPOSITION",
    "CLAUSE_END",
    "INSIDE_NAME",
    "MID_PHRASE",
    "ORDINARY",
    "SENTENCE_END",
    "break_cost",
    "break_costs",
    "ends_sentence",
]
