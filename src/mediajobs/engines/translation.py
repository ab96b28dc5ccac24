"""The translation engine port: lines of text from one language to another, by hops of installed pairs.

An engine knows its pairs and the routes between them (`route`: the shortest chain of pairs, refused
with InvalidRequest `unsupported_language_pair` when none exists), and translates many lines in one
call per hop without moving words from one line to another. Apertium (apertium.py) implements it; a
fake for tests is in mediajobs.testing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mediajobs.cancel import CancelToken

from .registry import Slot


@dataclass(frozen=True, kw_only=True, slots=True)
class Hop:
    """One step of a route: an installed pair."""

    source: str
    target: str
    mode: str  # the engine's name for the pair, e.g. Apertium's `eng-spa`

    def describe(self) -> str:
        return f"{self.source}->{self.target} ({self.mode})"


class Translation(Protocol):
    """Translates lines of text; knows which languages it connects."""

    name: str

    def route(self, source: str, target: str) -> tuple[Hop, ...]:
        """The hops from `source` to `target`; InvalidRequest when no chain of pairs connects them."""
        ...

    def translate(self, lines: Sequence[str], hop: Hop, *, work_dir: Path, cancel: CancelToken) -> list[str]:
        """`lines` translated by one hop, as many lines in the same order; PermanentError on failure."""
        ...


TRANSLATION: Slot[Translation] = Slot("translation")
"""The registry slot of the worker's translation engine."""

__all__ = ["TRANSLATION", "Hop", "Translation"]
