"""Reads of the event log used by the API (the store owns the queries)."""

from __future__ import annotations

import uuid

from mediajobs.domain.events import ProgressEvent
from mediajobs.store import JobStore


def latest_event(store: JobStore, job_id: uuid.UUID) -> ProgressEvent | None:
    """The job's most recent event (its latest progress and message), if any."""
    return store.latest_event(job_id)


__all__ = ["latest_event"]
