"""Where a subtitle may break between two words, and how badly: the phrase rules subtitle editors follow.

A break (the end of a cue, or of a line inside one) is best after a sentence, then after a clause
(comma, semicolon, colon, dash), then before a conjunction or a preposition; it is poorer between two
other words, poorer still after a subject pronoun ("we | will go"), bad after a word that opens a phrase
(an article, a preposition, a conjunction, a possessive, an auxiliary verb, "to", "not": "before the |
weekend"), and all but forbidden inside a name (capitalised words: "Dr. Smith", "New York") or between
a number and its unit ("12 km", "three hours"). The word lists are English; in other languages the
punctuation, name and number rules still hold. Pure functions over the words' text.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

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


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ARTICLES = _words("a an the")
POSSESSIVES = _words("my your his her its our their whose")
DETERMINERS = _words("every each another several")
PREPOSITIONS = _words(
    "about above across after against along among around at before behind below beneath beside besides "
    "between beyond by despite during except for from in inside into like near of on onto outside over "
    "past per since through throughout to toward towards under underneath until upon via with within "
    "without"
)
CONJUNCTIONS = _words(
    "and but or nor so yet because although though while whereas if unless whether when whenever where "
    "wherever than that which who whom"
)
AUXILIARIES = _words(
    "am is are was were be been being have has had do does did will would shall should can could may "
    "might must ain't isn't aren't wasn't weren't haven't hasn't hadn't don't doesn't didn't won't "
    "wouldn't shan't shouldn't can't cannot couldn't mightn't mustn't"
)
# a preposition before these opens no phrase: it is an adverb ("stayed inside and", "went over to")
ADVERB_BEFORE = PREPOSITIONS | _words("and or but so because while when")
OPENERS = ARTICLES | POSSESSIVES | DETERMINERS | PREPOSITIONS | CONJUNCTIONS | AUXILIARIES | {"not", "very"}
SUBJECTS = _words("i we they he she")
NOT_A_NAME = OPENERS | SUBJECTS | {"i'm", "i'll", "i've", "i'd", "you", "it"}
TITLES = _words("mr mrs ms dr prof st mt jr sr gen col capt lt sgt rev fr hon gov sen rep pres")
NUMBER_WORDS = _words(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "million billion dozen half"
)

_NUMBER = re.compile(r"^[$€£¥]?\d[\d,.:]*(%|st|nd|rd|th|s)?$")
_CONTRACTED = tuple(f"{mark}{end}" for mark in "'\u2019" for end in ("s", "re", "ve", "ll", "d", "m"))
_CLOSING = "\"')]\u00bb\u201d\u2019"  # closing quotes and brackets after a word's punctuation


def break_costs(words: Sequence[str]) -> list[int]:
    """`costs[k]`: how bad a break between `words[k]` and `words[k + 1]` is (0 after the last word)."""
    costs = [break_cost(a, b) for a, b in itertools.pairwise(words)]
    return [*costs, AFTER_SENTENCE] if words else []


def break_cost(word: str, following: str) -> int:
    """How bad a break between `word` and the `following` one is (the constants above)."""
    bare = word.rstrip(_CLOSING)
    if _ends_sentence(word, bare, following):
        return AFTER_SENTENCE
    if bare.endswith(CLAUSE_END):
        return AFTER_CLAUSE
    if _title(bare) or _joins_name(bare, following) or _joins_unit(bare, following):
        return INSIDE_NAME
    lower, next_lower = bare.lower(), following.lower()
    adverb = lower in PREPOSITIONS and next_lower in ADVERB_BEFORE  # "ran outside | to play"
    if (lower in OPENERS or lower.endswith(_CONTRACTED)) and not adverb:
        return MID_PHRASE
    if next_lower in CONJUNCTIONS:
        return BEFORE_CONJUNCTION
    if next_lower in PREPOSITIONS:
        return BEFORE_PREPOSITION
    if lower in SUBJECTS:
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


def _joins_name(bare: str, following: str) -> bool:
    """Two capitalised words of one name: "Maria Lopez", "New York" (not "The Hague", not "Then I")."""
    if bare != bare.rstrip(".,;:?!…") or not (bare[:1].isupper() and following[:1].isupper()):
        return False
    return bare.lower() not in NOT_A_NAME and following.lower().rstrip(_CLOSING + ".,;:?!…") not in NOT_A_NAME


def _joins_unit(bare: str, following: str) -> bool:
    """A number and the word it counts or measures: "12 km", "3.5 million", "forty minutes"."""
    number = bool(_NUMBER.match(bare)) or bare.lower() in NUMBER_WORDS
    if not number or not following[:1].isalpha() or not following[:1].islower():
        return False
    return following.lower().rstrip(_CLOSING + ".,;:?!…") not in NOT_A_NAME


def ends_sentence(word: str, following: str) -> bool:
    """Whether `word` ends a sentence when `following` comes next ("Dr." before "Smith" does not)."""
    return break_cost(word, following) == AFTER_SENTENCE


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
