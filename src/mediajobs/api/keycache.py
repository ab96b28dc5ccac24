"""Key checks an API process remembers for a few seconds (`MEDIAJOBS_KEY_CACHE_SECONDS`, 5 by default).

Every request checks its key; without a cache that is a database read per request, the largest part
of a small request's cost. A remembered check is trusted until it is `ttl` seconds old, so a key
revoked (or a user disabled) elsewhere is refused within `ttl` seconds. Only keys that passed are
remembered (an unknown key costs a read every time: remembering failures would let a flood of random
keys fill the memory), under a digest of the key rather than the key itself, at most `max_entries`.

The caller's usage is as old as the entry; that is fine for the submit's early quota check because
the submit's usage charge checks the quota again, exactly, in its own transaction.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from mediajobs.store import Caller

Clock = Callable[[], float]


class KeyCache:
    def __init__(self, ttl: float, *, max_entries: int = 10_000, clock: Clock = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[bytes, tuple[float, Caller]] = {}  # insertion order: oldest first
        self._lock = threading.Lock()

    def peek(self, key: str) -> Caller | None:
        """The caller of `key` if it was checked less than `ttl` seconds ago (no I/O: safe on the
        event loop)."""
        if self.ttl <= 0:
            return None
        entry = self._entries.get(_digest(key))
        if entry is not None and self._clock() - entry[0] < self.ttl:
            return entry[1]
        return None

    def check(self, key: str, authenticate: Callable[[str], Caller | None]) -> Caller | None:
        """The caller of `key`: remembered if checked less than `ttl` seconds ago, else
        `authenticate(key)` (remembered when it passes)."""
        if self.ttl <= 0:
            return authenticate(key)
        remembered = self.peek(key)
        if remembered is not None:
            return remembered
        digest, now = _digest(key), self._clock()
        caller = authenticate(key)
        with self._lock:
            if caller is None:
                self._entries.pop(digest, None)
                return None
            self._entries.pop(digest, None)
            self._entries[digest] = (now, caller)
            if len(self._entries) > self.max_entries:
                self._evict(now)
        return caller

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _evict(self, now: float) -> None:
        """Drop expired entries; if still full, the oldest ones."""
        for digest in [d for d, (at, _) in self._entries.items() if now - at >= self.ttl]:
            del self._entries[digest]
        while len(self._entries) > self.max_entries:
            del self._entries[next(iter(self._entries))]


def _digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode(), digest_size=16).digest()


__all__ = ["KeyCache"]
