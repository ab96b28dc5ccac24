"""Stored bytes: what a user keeps (uploads, their jobs' stage files and artifacts), charged as each
file is stored and released as it is removed; and the owner's DELETE of an upload or a job.

    used(owner)                    uploads' sizes + jobs' `stored_bytes` (one query, two indexed sums)
    charge_job(job, size, limits)  a worker stores a file of a job: refused past the owner's limit
    count_job(job, size)           a re-run's copies of its old job's files: counted, not refused
    check_upload(tx, owner, ...)   an upload's row is written: refused past the owner's limit
    delete_upload(id, scope)       the row goes (409 while an open job reads it); the file is the caller's
    delete_job(id, scope)          the job is marked `deleted`, its artifacts forgotten, its bytes released

Charges are exact: each takes the owner's row lock (PostgreSQL: FOR UPDATE; SQLite holds the write
lock anyway), so two files stored at once cannot both take the last room. The rules are in
domain/storage.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, delete, exists, func, select, update

from mediajobs.domain import OPEN_JOB_STATUSES, JobStatus, StageStatus, Upload
from mediajobs.domain.storage import StageStorageExceeded, StorageQuotaExceeded, describe, fits
from mediajobs.domain.tenancy import Tier, TierLimits
from mediajobs.errors import Conflict, JobCancelled, NotFound

from .events import Note
from .mapping import upload_from_row
from .tables import ArtifactRow, JobRow, StageRunRow, UploadRow, UserRow
from .tx import Database, Tx
from .writes import update_job

GONE_STATUSES = frozenset({JobStatus.DELETED, JobStatus.EXPIRED})
"""A job whose files were removed: nothing more is stored for it."""


def _used_query(owner_id: str) -> object:
    uploads = select(func.coalesce(func.sum(UploadRow.size), 0)).where(UploadRow.owner_id == owner_id)
    jobs = select(func.coalesce(func.sum(JobRow.stored_bytes), 0)).where(JobRow.owner_id == owner_id)
    return select(uploads.scalar_subquery() + jobs.scalar_subquery())


def used_in(tx: Tx, owner_id: str) -> int:
    return int(tx.conn.execute(_used_query(owner_id)).scalar_one())  # type: ignore[call-overload]


def lock_owner(tx: Tx, owner_id: str) -> Tier:
    """The owner's tier, their row locked until commit: chargers of one user take turns."""
    query = select(UserRow.tier).where(UserRow.id == owner_id)
    tier = tx.conn.execute(query.with_for_update() if tx.postgres else query).scalar_one_or_none()
    if tier is None:
        raise NotFound(f"no user {owner_id[:80]!r}")
    return Tier(tier)


def check_upload(tx: Tx, owner_id: str, size: int, limits: Mapping[Tier, TierLimits]) -> None:
    """Raise StorageQuotaExceeded (413) when an upload of `size` bytes would not fit the owner's limit."""
    limit = limits[lock_owner(tx, owner_id)].stored_bytes
    if limit is None:
        return
    used = used_in(tx, owner_id)
    if not fits(limit, used, size):
        raise StorageQuotaExceeded(describe(limit, used))


def files_removed(tx: Tx, row: Row[Any], status: JobStatus, message: str) -> None:
    """The (locked) job's files are going: forget its artifacts, count no bytes for it any more, and
    log why, under its new status (`deleted`, `expired`)."""
    tx.conn.execute(delete(ArtifactRow).where(ArtifactRow.job_id == row.id))
    update_job(tx, row, [Note(message=message)], status=status, stored_bytes=0)


class StoredBytes:
    def __init__(self, db: Database) -> None:
        self._db = db

    def used(self, owner_id: str) -> int:
        """The bytes `owner_id` keeps now: uploads plus their jobs' stored files."""
        with self._db.read() as conn:
            return int(conn.execute(_used_query(owner_id)).scalar_one())  # type: ignore[call-overload]

    def room(self, owner_id: str, limits: Mapping[Tier, TierLimits]) -> tuple[int, int] | None:
        """(used, limit) of the owner's stored bytes, None when their tier keeps no count."""
        with self._db.read() as conn:
            tier = conn.execute(select(UserRow.tier).where(UserRow.id == owner_id)).scalar_one_or_none()
            if tier is None:
                raise NotFound(f"no user {owner_id[:80]!r}")
            limit = limits[Tier(tier)].stored_bytes
            if limit is None:
                return None
            return int(conn.execute(_used_query(owner_id)).scalar_one()), limit  # type: ignore[call-overload]

    def charge_job(self, job_id: uuid.UUID, size: int, limits: Mapping[Tier, TierLimits]) -> None:
        """Count `size` more bytes stored for the job, or raise StageStorageExceeded (permanent: the
        job fails) when they would take its owner past their limit; JobCancelled when the job's
        files were removed meanwhile (deleted, expired) or it is gone."""
        with self._db.tx() as tx:
            row = tx.lock_job(job_id)
            if row is None or row.status in GONE_STATUSES:
                if size <= 0:
                    return  # giving back to a job whose count was already set to 0
                raise JobCancelled(f"job {job_id} was deleted: nothing more is stored for it")
            limit = limits[lock_owner(tx, row.owner_id)].stored_bytes
            if limit is not None and size > 0:  # giving back is always allowed
                used = used_in(tx, row.owner_id)
                if not fits(limit, used, size):
                    raise StageStorageExceeded(describe(limit, used, size))
            tx.conn.execute(
                update(JobRow).where(JobRow.id == job_id).values(stored_bytes=JobRow.stored_bytes + size)
            )

    def count_job(self, job_id: uuid.UUID, size: int) -> None:
        """Count `size` more bytes stored for the job, unchecked (a re-run's copies of its old job's
        files: they were the owner's already)."""
        with self._db.tx() as tx:
            tx.conn.execute(
                update(JobRow).where(JobRow.id == job_id).values(stored_bytes=JobRow.stored_bytes + size)
            )

    def delete_upload(self, upload_id: uuid.UUID, owner_id: str | None) -> Upload:
        """Remove the upload's row (the caller deletes its file next): NotFound unless it is
        `owner_id`'s (None: anybody's, for an admin), Conflict `upload_in_use` while a queued or
        running job reads it. Ended jobs that read it keep their rows; a retry of one fails."""
        which = UploadRow.id == upload_id
        if owner_id is not None:
            which &= UploadRow.owner_id == owner_id
        with self._db.tx() as tx:
            query = select(UploadRow.__table__).where(which)
            row = tx.conn.execute(query.with_for_update() if tx.postgres else query).one_or_none()
            if row is None:
                raise NotFound(f"no upload with id {upload_id}")
            reader = tx.conn.execute(
                select(JobRow.id)
                .where(JobRow.upload_id == upload_id, JobRow.status.in_(sorted(OPEN_JOB_STATUSES)))
                .limit(1)
            ).scalar_one_or_none()
            if reader is not None:
                raise Conflict(
                    f"job {reader} still reads upload {upload_id}: cancel it or wait for it to end",
                    code="upload_in_use",
                )
            tx.conn.execute(delete(UploadRow).where(UploadRow.id == upload_id))
        return upload_from_row(row)

    def delete_job(self, job_id: uuid.UUID, owner_id: str | None) -> int:
        """Mark an ended job `deleted`: its artifacts forgotten, its stored bytes released (the caller
        removes its files next); the row and its history stay. Returns the bytes released. NotFound
        unless it is `owner_id`'s; Conflict `job_not_finished` while it is queued or running, or a
        cancelled job's stage is still stopping. Deleting a deleted job again releases nothing."""
        with self._db.tx() as tx:
            row = tx.lock_job(job_id)
            if row is None or (owner_id is not None and row.owner_id != owner_id):
                raise NotFound(f"no job with id {job_id}")
            if row.status == JobStatus.DELETED:
                return 0
            stopping = tx.conn.execute(
                select(
                    exists().where(StageRunRow.job_id == job_id, StageRunRow.status == StageStatus.RUNNING)
                )
            ).scalar_one()
            if row.status in OPEN_JOB_STATUSES or stopping:
                raise Conflict(
                    f"job {job_id} is {row.status}: cancel it (POST /api/v1/jobs/{job_id}/cancel) and "
                    "delete it once it has ended",
                    code="job_not_finished",
                )
            files_removed(
                tx, row, JobStatus.DELETED, "deleted by its owner: its media and artifacts were removed"
            )
        return int(row.stored_bytes)


__all__ = ["GONE_STATUSES", "StoredBytes", "check_upload", "files_removed", "lock_owner", "used_in"]
