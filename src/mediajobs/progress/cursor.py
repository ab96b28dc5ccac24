"""Event ids as a user sees them: one counter numbers every user's events (`job_events.id`), so ids
shown as they are told a user how much everybody else was doing (the gaps between their own).

Each user sees their events' ids through a keyed permutation of 62-bit numbers (a four-round Feistel
network over two 31-bit halves, HMAC-SHA256 as its round function) under a key of their own that is
never shown (`users.event_key`, made on first need). A shown id is opaque: decimal digits, unique per
event, not in order and not comparable between users; sent back as `Last-Event-ID` it is turned back
into the real id, so resuming works as before. A number that is not one of the user's ids turns into
some other position of their own log: it can only replay their own events.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable
from dataclasses import replace

from mediajobs.domain.events import ProgressEvent

HALF_BITS = 31
MAX_SHOWN_ID = (1 << (2 * HALF_BITS)) - 1  # every shown id is at most this (and every real one must be)
_MASK = (1 << HALF_BITS) - 1
_ROUNDS = 4


class EventIds:
    """One user's view of event ids."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _round(self, number: int, half: int) -> int:
        message = bytes((number,)) + half.to_bytes(4, "big")
        return int.from_bytes(hmac.new(self._key, message, hashlib.sha256).digest()[:4], "big") & _MASK

    def shown(self, real: int) -> int:
        """The id the user sees for the event numbered `real`."""
        if not 0 <= real <= MAX_SHOWN_ID:
            raise ValueError(f"event id {real} is outside the 62-bit range")
        left, right = real >> HALF_BITS, real & _MASK
        for number in range(_ROUNDS):
            left, right = right, left ^ self._round(number, right)
        return (left << HALF_BITS) | right

    def real(self, shown: int) -> int:
        """The event id behind one the user was shown (any number of the range maps to one)."""
        if not 0 <= shown <= MAX_SHOWN_ID:
            raise ValueError(f"event id {shown} is outside the 62-bit range")
        left, right = shown >> HALF_BITS, shown & _MASK
        for number in reversed(range(_ROUNDS)):
            left, right = right ^ self._round(number, left), left
        return (left << HALF_BITS) | right

    def event(self, event: ProgressEvent) -> ProgressEvent:
        """`event` with the id the user sees."""
        return replace(event, id=self.shown(event.id))


class EventIdKeys:
    """Each user's EventIds, their key read (or made) once per process: keys never change."""

    def __init__(self, load: Callable[[str], bytes]) -> None:
        self._load = load
        self._known: dict[str, EventIds] = {}
        self._lock = threading.Lock()

    def of(self, user_id: str) -> EventIds:
        """Blocking on the first call per user (a database read): call it from a worker thread."""
        found = self._known.get(user_id)
        if found is None:
            found = EventIds(self._load(user_id))
            with self._lock:
                self._known[user_id] = found
        return found


__all__ = ["MAX_SHOWN_ID", "EventIdKeys", "EventIds"]
