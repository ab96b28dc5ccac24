"""Progress events: what a follower of a job sees, in order, each with its sequence number."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .models import TERMINAL_JOB_STATUSES


class EventType(enum.StrEnum):
    STATE = "state"  # a job or stage changed status (always logged)
    PROGRESS = "progress"  # a stage reported how far it is (throttled)


@dataclass(frozen=True, kw_only=True, slots=True)
class ProgressEvent:
    id: int  # global order across all jobs (the per-user stream's event id)
    job_id: uuid.UUID
    owner_id: str
    seq: int  # 1, 2, 3... per job, no gaps in what was written (the job stream's event id)
    type: EventType
    status: str  # the job's status after this event
    stage: str | None
    stage_status: str | None
    stage_percent: float | None  # None: the stage cannot tell (indeterminate)
    job_percent: float
    file: str | None  # the source's file name
    message: str | None
    at: datetime

    @property
    def final(self) -> bool:
        """The job ended with this event: followers can stop."""
        return self.type is EventType.STATE and self.stage is None and self.status in TERMINAL_JOB_STATUSES

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job_id": str(self.job_id),
            "seq": self.seq,
            "type": self.type.value,
            "status": self.status,
            "stage": self.stage,
            "stage_status": self.stage_status,
            "stage_percent": self.stage_percent,
            "job_percent": self.job_percent,
            "file": self.file,
            "message": self.message,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, owner_id: str = "") -> ProgressEvent:
        return cls(
            id=int(data["id"]),
            job_id=uuid.UUID(str(data["job_id"])),
            owner_id=owner_id,
            seq=int(data["seq"]),
            type=EventType(data["type"]),
            status=str(data["status"]),
            stage=data.get("stage"),
            stage_status=data.get("stage_status"),
            stage_percent=data.get("stage_percent"),
            job_percent=float(data["job_percent"]),
            file=data.get("file"),
            message=data.get("message"),
            at=datetime.fromisoformat(str(data["at"])),
        )
