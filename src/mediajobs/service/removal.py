"""DELETE: an owner removes an upload, or an ended job's files, and the bytes they held are released
from their stored-bytes quota (store/stored.py; the rules in domain/storage.py).

The row is written first and the files removed after it: once the row says `deleted` no worker
stores anything more for the job, and a removal that fails half way is finished by deleting again
(deleting a deleted job removes whatever of its files is left).
"""

from __future__ import annotations

import uuid

from mediajobs.domain import Job
from mediajobs.storage import job_prefix
from mediajobs.store import Caller
from mediajobs.wiring import Services


def delete_upload(services: Services, caller: Caller, upload_id: uuid.UUID) -> None:
    """Remove one's own upload, row and file. 404 for another's; 409 `upload_in_use` while a queued
    or running job reads it."""
    upload = services.store.stored.delete_upload(upload_id, caller.scope)
    services.storage.delete(upload.key)


def delete_job(services: Services, caller: Caller, job_id: uuid.UUID) -> Job:
    """Remove an ended job's media, work files and artifacts; its row stays, status `deleted`. 404 for
    another's; 409 `job_not_finished` while it is queued or running (cancel it first). The job as it
    is now."""
    services.store.stored.delete_job(job_id, caller.scope)
    services.storage.delete_prefix(job_prefix(job_id))
    return services.store.jobs.get_job(job_id, caller.scope)


__all__ = ["delete_job", "delete_upload"]
