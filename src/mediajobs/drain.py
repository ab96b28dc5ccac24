"""Graceful drain: what one worker process does with its running stages when the worker stops.

A worker told to stop (SIGTERM: `docker stop`, Kubernetes, `systemctl stop`, a rolling upgrade)
takes no new message (Celery's warm shutdown stops consuming) and gives the stages it runs
`MEDIAJOBS_DRAIN_SECONDS` to finish. Past that, the stages still running are handed back: their
cancel token trips with `HandedBack`, the stage stops like a cancelled one (its engine and ffmpeg
processes are stopped), and the runner releases its lease and queues the stage again at once
(`Leases.hand_back`: the fence moves on, a message goes out through the outbox), so another worker
takes it over from its last checkpoint without waiting for a lease to expire.

    worker main process                      pool process (one per slot)
    -------------------                      ---------------------------
    SIGTERM -> warm shutdown begins
      stop consuming                         Drain.begin(): no more sticky successors
      SIGUSR2 to each pool process  ------>  timer of `grace` seconds
      wait for the pool                      stage ends in time: recorded as usual
                                             or the timer fires: tokens trip -> hand back
      exit once every slot is free

One `Drain` per pool process (built after fork); the runner registers each running stage's cancel
token with `watch` and asks `draining` before it follows a successor without the broker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from mediajobs.cancel import CancelToken
from mediajobs.errors import HandedBack

log = logging.getLogger(__name__)

DRAIN_SIGNAL_NAME = "SIGUSR2"
"""The signal a worker's main process sends its pool processes when it starts to stop (SIGUSR1 is
Celery's soft time limit; SIGTERM kills a pool process at once)."""


class Drain:
    """The drain state of one process: not draining, draining (grace running), or past the grace."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._lock = threading.Lock()
        self._tokens: set[CancelToken] = set()
        self._draining = threading.Event()
        self._expired = threading.Event()
        self._timer: threading.Timer | None = None

    @property
    def draining(self) -> bool:
        """True once the worker started to stop: follow no successor, take no more work."""
        return self._draining.is_set()

    @property
    def expired(self) -> bool:
        """True once the grace period is over: every stage still running is handed back."""
        return self._expired.is_set()

    def begin(self) -> None:
        """Start draining (idempotent; safe in a signal handler: it only sets flags and starts a timer)."""
        with self._lock:
            if self._draining.is_set():
                return
            self._draining.set()
            if self.grace <= 0:
                self._timer = None
            else:
                self._timer = threading.Timer(self.grace, self.expire)
                self._timer.daemon = True
                self._timer.name = "mediajobs-drain"
                self._timer.start()
        if self.grace <= 0:
            self.expire()

    def expire(self) -> None:
        """End the grace period: hand back every stage still running, and any that starts later."""
        with self._lock:
            self._expired.set()
            tokens = list(self._tokens)
        if tokens:
            log.warning(
                "drain: %d stage(s) still running after %.0f s; handing them back", len(tokens), self.grace
            )
        for token in tokens:
            token.cancel(_handed_back(self.grace))

    @contextmanager
    def watch(self, token: CancelToken) -> Iterator[None]:
        """While the block runs, the grace period's end trips `token` with HandedBack."""
        with self._lock:
            self._tokens.add(token)
            expired = self._expired.is_set()
        if expired:
            token.cancel(_handed_back(self.grace))
        try:
            yield
        finally:
            with self._lock:
                self._tokens.discard(token)

    def cancel_timer(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()


def _handed_back(grace: float) -> HandedBack:
    return HandedBack(
        f"the worker stopped and the stage did not finish within the drain's {grace:g} s; handed back"
    )


__all__ = ["DRAIN_SIGNAL_NAME", "Drain"]
