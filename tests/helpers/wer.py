"""Word error rate, the usual yardstick for speech-to-text output against a known script."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-case words with punctuation and accents dropped, so "Warm." and "warm" (or "después"
    and "despues") compare equal."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return [w.strip("'") for w in _NON_WORD.split(plain) if w.strip("'")]


def wer(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / number of reference words, by word-level edit distance."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(
                min(
                    previous[j] + 1,  # deletion
                    current[j - 1] + 1,  # insertion
                    previous[j - 1] + (ref_word != hyp_word),  # substitution or match
                )
            )
        previous = current
    return previous[-1] / len(ref)
