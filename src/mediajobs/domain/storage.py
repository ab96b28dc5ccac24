"""A user's stored bytes: the rule that bounds what they keep at once. Pure: no storage.

stored bytes   the sizes of a user's uploads (rows in `uploads`) plus every file their jobs' stages
               and artifacts stored (`jobs.stored_bytes`, charged as each file is stored); released
               when an upload or a job's files are removed (DELETE, or housekeeping's expiry)
limit          the tier's `stored_bytes` (None: unlimited); not a monthly figure: deleting frees room
"""

from __future__ import annotations

from mediajobs.errors import PayloadTooLarge, PermanentError

STORAGE_QUOTA_CODE = "storage_quota_exceeded"


def fits(limit: int | None, used: int, adding: int) -> bool:
    """May `adding` more bytes be kept on top of `used`?"""
    return limit is None or used + adding <= limit


def describe(limit: int, used: int, adding: int | None = None) -> str:
    """The human half of a refusal (the machine half is the code `storage_quota_exceeded`)."""
    left = max(0, limit - used)
    what = "this file" if adding is None else f"{adding} more bytes"
    return (
        f"storage quota: you keep {used} of {limit} bytes ({left} left), and {what} would pass it; "
        "delete uploads or jobs you no longer need (DELETE /api/v1/uploads/{id}, /api/v1/jobs/{id})"
    )


class StorageQuotaExceeded(PayloadTooLarge):
    """Raised when an upload (or a submit's text) would take the user past their stored-bytes limit:
    413 `storage_quota_exceeded`; nothing of it is kept."""

    code = STORAGE_QUOTA_CODE


class StageStorageExceeded(PermanentError):
    """Raised inside a stage when a file it stores would take the job's owner past their stored-bytes
    limit: the job fails with `storage_quota_exceeded` (running it again would not fit either)."""

    code = STORAGE_QUOTA_CODE


__all__ = ["STORAGE_QUOTA_CODE", "StageStorageExceeded", "StorageQuotaExceeded", "describe", "fits"]
