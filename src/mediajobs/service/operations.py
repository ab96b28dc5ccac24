"""The operators' use cases behind the dashboard: retry every job a search matches, pause and resume
admission into a lane.

    retry_all(services, caller, job_filter)   retry each failed or cancelled job the filter matches
    pause_lane(services, caller, lane)        admission stops for the lane's jobs that have not started
    resume_lane(services, caller, lane)       ... and starts again: what waited is admitted at once
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from mediajobs.domain import JobStatus, Lane
from mediajobs.errors import ClientError, Forbidden, InvalidRequest
from mediajobs.store import Caller
from mediajobs.store.browse import MAX_MATCHING, JobFilter
from mediajobs.wiring import Services

from .actions import retry

log = logging.getLogger(__name__)

RETRYABLE = (JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryAll:
    """What `retry_all` did: how many jobs it retried, and those it could not (changed meanwhile)."""

    retried: int
    refused: int


def matching_retryable(services: Services, caller: Caller, job_filter: JobFilter) -> JobFilter:
    """`job_filter` scoped to what the caller may touch and to jobs a retry accepts (failed, unless
    the filter asks for cancelled ones)."""
    status = job_filter.status if job_filter.status in RETRYABLE else JobStatus.FAILED
    return replace(job_filter, owner_id=caller.scope, status=status)


def count_retryable(services: Services, caller: Caller, job_filter: JobFilter) -> int:
    """How many jobs `retry_all` would retry now (at most MAX_MATCHING): what the page asks to confirm."""
    scoped = matching_retryable(services, caller, job_filter)
    return len(services.store.browse.matching_ids(scoped, limit=MAX_MATCHING))


def retry_all(services: Services, caller: Caller, job_filter: JobFilter) -> RetryAll:
    """Retry each failed (or cancelled) job the filter matches, oldest first, at most MAX_MATCHING;
    each one like `retry` (its own transaction; its first stages admitted and published)."""
    scoped = matching_retryable(services, caller, job_filter)
    retried = refused = 0
    for job_id in services.store.browse.matching_ids(scoped, limit=MAX_MATCHING):
        try:
            retry(services, caller, job_id)
        except ClientError as exc:  # it changed since the search (retried by someone else...)
            log.info("retry all: job %s not retried: %s", job_id, exc)
            refused += 1
        else:
            retried += 1
    return RetryAll(retried=retried, refused=refused)


def _lane(lane: str) -> str:
    if lane not in {value.value for value in Lane}:
        raise InvalidRequest(f"no lane named {lane[:40]!r}", code="unknown_lane")
    return lane


def _admin(caller: Caller) -> None:
    if not caller.user.is_admin:
        raise Forbidden("only an admin may pause or resume a lane", code="admin_only")


def pause_lane(services: Services, caller: Caller, lane: str) -> bool:
    """Stop admission into `lane` (admins): its jobs that have not started wait; running jobs finish.
    False when it was paused already."""
    _admin(caller)
    return services.store.pauses.pause(_lane(lane), by=caller.user.id)


def resume_lane(services: Services, caller: Caller, lane: str) -> bool:
    """Admit into `lane` again (admins), and admit what waited right away (not at the next tick)."""
    _admin(caller)
    resumed = services.store.pauses.resume(_lane(lane))
    if resumed:
        services.dispatcher.settled(services.store.admission.admit_waiting)
    return resumed


__all__ = ["RetryAll", "count_retryable", "pause_lane", "resume_lane", "retry_all"]
