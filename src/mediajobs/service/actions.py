"""Cancel and retry: a job's owner (or an admin) changes its course.

Each writes through the store and then settles (`Dispatcher.settled`): the slots a cancel frees go to
the owner's waiting stages, and a retry's first stages are admitted and published, right away.
"""

from __future__ import annotations

import uuid

from mediajobs.domain import Job
from mediajobs.domain.tenancy import TierLimits
from mediajobs.store import Caller
from mediajobs.wiring import Services


def cancel(services: Services, caller: Caller, job_id: uuid.UUID) -> Job:
    """A queued job never starts; a running stage is stopped at its next heartbeat. 409 once ended."""
    return services.dispatcher.settled(services.store.jobs.request_cancel, job_id, caller.scope)


def retry(services: Services, caller: Caller, job_id: uuid.UUID) -> Job:
    """Run a failed or cancelled job again from its first unfinished stage, with a fresh retry budget
    (finished stages keep their checkpoints). 409 for a job in any other state; 429 past the
    caller's monthly quota, checked exactly in the retry's own transaction."""
    return services.dispatcher.settled(
        services.store.jobs.retry_job, job_id, caller.scope, quota=quota_of(services, caller)
    )


def quota_of(services: Services, caller: Caller) -> TierLimits | None:
    """The monthly quotas a retry or re-run by `caller` must fit: their tier's. None for an admin,
    who may act on anybody's job (whose usage their own tier says nothing about)."""
    if caller.scope is None:
        return None
    return services.settings.tier_limits()[caller.user.tier]


__all__ = ["cancel", "quota_of", "retry"]
