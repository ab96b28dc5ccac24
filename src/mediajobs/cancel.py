"""How a running stage is told to stop: a token its code (and the tools it runs) poll."""

from __future__ import annotations

import threading

from mediajobs.errors import JobCancelled, MediaJobsError


class CancelToken:
    """Set when a running stage must stop: its job was cancelled, its lease was lost, or it timed out.

    Stages poll `raise_if_set()` between units of work; `run_process` polls it while a subprocess runs.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._error: MediaJobsError | None = None

    def cancel(self, error: MediaJobsError | None = None) -> None:
        if not self._event.is_set():
            self._error = error or JobCancelled("the job was cancelled")
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)

    @property
    def error(self) -> MediaJobsError | None:
        return self._error

    def raise_if_set(self) -> None:
        if self._event.is_set():
            raise self._error or JobCancelled("the job was cancelled")


__all__ = ["CancelToken"]
