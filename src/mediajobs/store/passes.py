"""One admission pass per user at a time in this process, the others folded into it.

Eight submits of one user that commit at the same moment used to run eight admission passes, each
waiting for the user's advisory lock in turn (and, in the API, holding a keep-alive client's next
request while it waited). Now a pass that finds another thread of this process admitting for the
same user marks the user and returns at once; the running pass looks again after its commit, and
that second look sees every stage committed before the mark. Passes in other processes still take
the advisory lock: this only folds a process's own threads together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Passes:
    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._running: set[str] = set()
        self._again: set[str] = set()

    def run(self, owner: str, one_pass: Callable[[], set[T]]) -> set[T]:
        """Run `one_pass` for `owner`, and again while other threads asked for it meanwhile; if a pass
        for `owner` is already running here, leave it to that one (returns nothing)."""
        with self._mutex:
            if owner in self._running:
                self._again.add(owner)
                return set()
            self._running.add(owner)
        done: set[T] = set()
        try:
            while True:
                done |= one_pass()
                with self._mutex:
                    if owner not in self._again:
                        self._running.discard(owner)
                        return done
                    self._again.discard(owner)
        except BaseException:
            with self._mutex:  # what was asked meanwhile is left to the next pass or the tick
                self._running.discard(owner)
                self._again.discard(owner)
            raise


__all__ = ["Passes"]
