"""Job and stage records: frozen, keyword-only, and ignorant of storage."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

JsonDict = dict[str, Any]

LOCAL_USER_ID = "local"
"""Owner of every job until authentication lands: one local user."""


class JobStatus(enum.StrEnum):
    QUEUED = "queued"  # accepted; no stage has started yet
    RUNNING = "running"  # started: a stage runs, or waits in a queue (or for a retry) between stages
    SUCCEEDED = "succeeded"  # every stage finished; artifacts are ready
    FAILED = "failed"  # a stage failed permanently or ran out of retries
    CANCELLED = "cancelled"  # cancelled by the user; no further stage starts

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_JOB_STATUSES


TERMINAL_JOB_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class StageStatus(enum.StrEnum):
    PENDING = "pending"  # waits for the stages it needs
    QUEUED = "queued"  # ready; a message to run it is (or will be) on the broker
    RUNNING = "running"  # claimed under a lease by one runner
    SUCCEEDED = "succeeded"  # output (checkpoint) committed; never run again
    FAILED = "failed"  # failed permanently or out of retries
    CANCELLED = "cancelled"  # its job was cancelled before it finished

    @property
    def terminal(self) -> bool:
        return self in (StageStatus.SUCCEEDED, StageStatus.FAILED, StageStatus.CANCELLED)


@dataclass(frozen=True, kw_only=True, slots=True)
class ErrorInfo:
    """Why a job or an attempt failed: a machine-readable code and a human message."""

    code: str
    message: str


@dataclass(frozen=True, kw_only=True, slots=True)
class StageRun:
    """One stage of one job: its state, attempts and committed output (the checkpoint)."""

    job_id: uuid.UUID
    name: str
    kind: str
    status: StageStatus
    attempts: int = 0
    budget_start: int = 0  # attempts made before the last manual retry (they do not count against it)
    output: JsonDict | None = None
    error: ErrorInfo | None = None
    progress: float = 0.0
    fence: int = 0
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    available_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Attempt:
    """One execution of a stage, as recorded for the job's history."""

    job_id: uuid.UUID
    stage: str
    number: int
    worker: str
    started_at: datetime
    finished_at: datetime | None = None
    outcome: str | None = None  # succeeded | retry | failed | cancelled | lease_lost | lost
    error: ErrorInfo | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Job:
    """A user's request to run a pipeline on a source, and where it stands."""

    id: uuid.UUID
    owner_id: str
    pipeline: str
    source: str
    options: JsonDict
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    current_stage: str | None = None
    progress: float = 0.0
    error: ErrorInfo | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cancel_requested_at: datetime | None = None
    manual_retries: int = 0
    stages: tuple[StageRun, ...] = field(default_factory=tuple)

    def stage(self, name: str) -> StageRun:
        for run in self.stages:
            if run.name == name:
                return run
        raise KeyError(name)


@dataclass(frozen=True, kw_only=True, slots=True)
class Upload:
    """A file received through the API, referenced by jobs as `upload://<id>`."""

    id: uuid.UUID
    owner_id: str
    filename: str
    content_type: str | None
    size: int
    sha256: str
    path: str  # relative to the storage root
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class Artifact:
    """A result file of a job (transcript.srt, ...), stored under the job's artifact folder."""

    job_id: uuid.UUID
    name: str
    content_type: str
    size: int
    path: str  # relative to the storage root
    created_at: datetime
