"""A page of a job listing and its cursor: an opaque token for "after this job" (its creation time and
id, newest first), checked when it comes back (a malformed one is 422 `invalid_cursor`)."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from mediajobs.domain import Job
from mediajobs.errors import InvalidRequest


@dataclass(frozen=True, kw_only=True, slots=True)
class JobPage:
    jobs: tuple[Job, ...]
    next_cursor: str | None


def encode_cursor(created_at: datetime, job_id: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{job_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, job_id = raw.split("|", 1)
        created = datetime.fromisoformat(stamp)
        if created.tzinfo is None:
            raise ValueError("cursor timestamp without a time zone")
        return created.astimezone(UTC), uuid.UUID(job_id)  # OverflowError: before year 1 or after 9999
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest("malformed cursor", code="invalid_cursor") from exc


__all__ = ["JobPage", "decode_cursor", "encode_cursor"]
