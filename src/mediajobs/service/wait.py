"""Wait until a job is done: for front doors that answer only once the work is finished (the
OpenAI-compatible routes, a synchronous client). No polling loop of its own: it follows the job's
event stream (Redis pub/sub, or the database log when embedded) until its final event.
"""

from __future__ import annotations

import asyncio
import uuid

from anyio import to_thread

from mediajobs.domain import Job
from mediajobs.progress.follow import follow_job
from mediajobs.store import Caller
from mediajobs.wiring import Services


async def wait_until_done(services: Services, caller: Caller, job_id: uuid.UUID, *, timeout: float) -> Job:
    """The job once it has ended, or as it stands after `timeout` seconds (its status says which).
    Another user's job, or an unknown id: NotFound."""
    store = services.store
    job = await to_thread.run_sync(lambda: store.jobs.get_job(job_id, caller.scope))
    if job.status.terminal:
        return job
    try:
        async with asyncio.timeout(timeout):
            progress = services.progress
            async for _ in follow_job(store.events, progress.feed, job_id, timings=progress.timings):
                pass
    except TimeoutError:
        pass
    return await to_thread.run_sync(lambda: store.jobs.get_job(job_id, caller.scope))


__all__ = ["wait_until_done"]
