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
    EXPIRED = "expired"  # finished long ago; its media and artifacts were removed (the row stays)
    DELETED = "deleted"  # ended, then deleted by its owner: its files are gone (the row stays)

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_JOB_STATUSES


TERMINAL_JOB_STATUSES = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED, JobStatus.DELETED}
)


class StageStatus(enum.StrEnum):
    PENDING = "pending"  # waits for the stages it needs
    READY = "ready"  # its needs succeeded; waits to be admitted to the broker (see admission.py)
    QUEUED = "queued"  # admitted; a message to run it is (or will be) on the broker
    RUNNING = "running"  # claimed under a lease by one runner
    SUCCEEDED = "succeeded"  # output (checkpoint) committed; never run again
    FAILED = "failed"  # failed permanently or out of retries
    CANCELLED = "cancelled"  # its job was cancelled before it finished
    SKIPPED = "skipped"  # never ran: another stage of its job failed first

    @property
    def terminal(self) -> bool:
        return self in (StageStatus.SUCCEEDED, StageStatus.FAILED, StageStatus.CANCELLED, StageStatus.SKIPPED)


OPEN_JOB_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
ENDED_JOB_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
"""Final statuses whose files are still kept (an `expired` or `deleted` job's are gone)."""
IN_FLIGHT_STAGE_STATUSES = frozenset({StageStatus.QUEUED, StageStatus.RUNNING})
"""What counts against a user's concurrency: admitted to the broker, or running."""
UNFINISHED_STAGE_STATUSES = frozenset(
    {StageStatus.PENDING, StageStatus.READY, StageStatus.QUEUED, StageStatus.RUNNING}
)
WAITING_STAGE_STATUSES = frozenset({StageStatus.PENDING, StageStatus.READY, StageStatus.QUEUED})


class AttemptOutcome(enum.StrEnum):
    SUCCEEDED = "succeeded"  # the stage's output was committed
    RETRY = "retry"  # failed; the stage was queued again after a backoff
    FAILED = "failed"  # failed permanently (or out of retries): the job failed
    CANCELLED = "cancelled"  # stopped because the job was cancelled
    LEASE_LOST = "lease_lost"  # the runner found another runner owned the stage, and stopped
    LOST = "lost"  # the runner stopped renewing its lease (killed, frozen); recorded by whoever noticed
    HANDED_BACK = "handed_back"  # its worker stopped and the drain's grace ran out; queued again at once


class Lane(enum.StrEnum):
    """Priority lanes: each is its own set of broker queues (routing is lane x stage kind)."""

    EXPRESS = "express"  # paying users' interactive work
    STANDARD = "standard"  # the default
    BATCH = "batch"  # bulk submissions; may wait behind the others


@dataclass(frozen=True, kw_only=True, slots=True)
class ErrorInfo:
    """Why a job or an attempt failed: a machine-readable code and a human message."""

    code: str
    message: str
    # False: a permanent failure (a PermanentError, a time limit): the same input fails again, so a
    # retry is pointless (`mediajobs retry --failed` skips it); True: it may succeed another time
    retryable: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class StageRun:
    """One stage of one job: its state, attempts and committed output (the checkpoint)."""

    job_id: uuid.UUID
    name: str  # unique in its job: a declared stage's name, or `<child>[<index>]` for a fan-out child
    kind: str  # the queue kind's name (QueueKind)
    status: StageStatus
    run: str = ""  # the name of the code that runs it, for people reading the database (the code
    # itself is the pipeline's: StageSpec.code)
    parent: str | None = None  # the stage whose result created this run (fan-out children)
    index: int | None = None  # a fan-out child's position among its siblings
    params: JsonDict | None = None  # what the parent handed this child
    routed_lane: str | None = None  # the lane its current message went to (admission may age batch work)
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
    outcome: str | None = None  # an AttemptOutcome value; None while it runs
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
    lane: str = Lane.STANDARD.value
    source_name: str | None = None  # the source's file name, for people
    rerun_of: uuid.UUID | None = None  # the job whose finished stages this re-run reuses
    media_seconds: float | None = None  # the media's length, once measured (what is metered)
    batch_id: uuid.UUID | None = None  # the batch it is an item of
    batch_index: int | None = None  # its place among the batch's items
    item_name: str | None = None  # what the batch calls it
    callback_url: str | None = None  # where its end is announced (a webhook, hooks/webhooks.py)
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
    key: str  # where the file is in storage
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class Artifact:
    """A result file of a job (transcript.srt, ...), stored under the job's artifact folder."""

    job_id: uuid.UUID
    name: str
    content_type: str
    size: int
    key: str  # where the file is in storage
    created_at: datetime
