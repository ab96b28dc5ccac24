"""Request and response bodies of the HTTP API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mediajobs.api.guards import MAX_OPTION_KEYS, NO_CONTROL, NO_CONTROL_IN_TEXT
from mediajobs.domain import Artifact, Attempt, ErrorInfo, Job, StageRun, Upload
from mediajobs.domain.events import ProgressEvent
from mediajobs.store import Waiting


class ErrorPublic(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. `unsupported_media`.")
    message: str = Field(description="What went wrong, for humans.")


class ErrorBody(BaseModel):
    error: ErrorPublic


class FailurePublic(ErrorPublic):
    retryable: bool = Field(
        description="False when the failure is permanent (the same input fails again, e.g. "
        "`unsupported_media`); `mediajobs retry --failed` skips those."
    )


BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed multipart body or Content-Length"},
    401: {"model": ErrorBody, "description": "No valid API key"},
    408: {"model": ErrorBody, "description": "The body stopped arriving (idle timeout)"},
    413: {"model": ErrorBody, "description": "The body or its file is over its limit"},
    422: {"model": ErrorBody, "description": "Unacceptable form, file, pipeline, source or options"},
    429: {
        "model": ErrorBody,
        "description": "Over a monthly quota or the submit rate limit, or too many uploads at once",
    },
}
"""The answers of a route that reads a body (a submit, an upload), for its OpenAPI responses."""


MAX_TEXT_CHARS = 200_000
# What api/guards.py checks of a body's strings, stated in the schema (the checks stay where they are).
_PLAIN: dict[str, Any] = {"pattern": NO_CONTROL}
_TEXT: dict[str, Any] = {"pattern": NO_CONTROL_IN_TEXT}
_OPTIONS: dict[str, Any] = {"maxProperties": MAX_OPTION_KEYS, "propertyNames": {"pattern": NO_CONTROL}}


SOURCE_OR_TEXT: dict[str, Any] = {"source": {"type": "string"}, "text": {"type": "string"}}


class SubmitFields(BaseModel):
    """What every JSON submit may say besides its pipeline and options."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(
        default=None,
        examples=[
            "https://example.com/talk.mp3",
            "upload://6f1c2d4e-8a9b-4c3d-9e1f-0a2b3c4d5e6f",
            "job://0b5e7a1c-2d3e-4f5a-8b6c-7d8e9f0a1b2c",
        ],
        max_length=4096,
        description="An http(s) URL to fetch, `upload://<id>` of a file sent to POST /api/v1/uploads, "
        "or `job://<id>`: the result of one of your finished jobs. Give it or `text`.",
        json_schema_extra=_PLAIN,
    )
    text: str | None = Field(
        default=None,
        max_length=MAX_TEXT_CHARS,
        examples=["Hello there."],
        description="The input of a text pipeline (translate, synthesize) instead of a `source`.",
        json_schema_extra=_TEXT,
    )
    lane: str | None = Field(
        default=None,
        max_length=16,
        description="`standard` or `batch` to run slower than your tier's lane (never faster).",
        json_schema_extra=_PLAIN,
    )


class JobCreate(SubmitFields):
    """A JSON submit as the route reads it (the document shows one variant per pipeline instead,
    api/openapi.py). Exactly one of `source` and `text` is a string, the other absent or null, except
    for a pipeline whose input may be in its options (a video's scenes), which may have neither: the
    route checks it (422)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["source"], "properties": {"source": {"type": "string"}}},
                {"required": ["text"], "properties": {"text": {"type": "string"}}},
            ]
        },
    )

    pipeline: str = Field(examples=["transcribe"], max_length=64, json_schema_extra=_PLAIN)
    options: dict[str, Any] = Field(
        default_factory=dict, examples=[{"language": "en", "vad": True}], json_schema_extra=_OPTIONS
    )


class RerunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_stage: str = Field(
        examples=["transcribe"],
        max_length=64,
        description="The first stage to run again; the finished stages before it are reused, not re-run.",
        json_schema_extra=_PLAIN,
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        examples=[{"word_timestamps": True}],
        description="Options that replace the old job's (the others are kept).",
        json_schema_extra=_OPTIONS,
    )


class Links(BaseModel):
    self: str
    result: str
    artifacts: str
    cancel: str


class StagePublic(BaseModel):
    name: str
    kind: str
    status: str
    attempts: int
    progress: float
    error: FailurePublic | None
    started_at: datetime | None
    finished_at: datetime | None


class AttemptPublic(BaseModel):
    stage: str
    number: int
    worker: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    error: ErrorPublic | None


class EventPublic(BaseModel):
    """A progress event, as the event streams send it (`data` of an SSE event, a WebSocket message)."""

    id: int = Field(description="Global order of events (the `id` of `GET /api/v1/events`).")
    job_id: uuid.UUID
    seq: int = Field(description="1, 2, 3... per job (the `id` of the job's own event stream).")
    type: str = Field(description="`state` (a job or stage changed status) or `progress`.")
    status: str = Field(description="The job's status after this event.")
    stage: str | None
    stage_status: str | None
    stage_percent: float | None = Field(description="None: the stage cannot tell how far it is.")
    job_percent: float
    file: str | None = Field(description="The source's file name.")
    message: str | None
    at: datetime


class WaitingPublic(BaseModel):
    reason: str = Field(
        description="`user_concurrency`: your stages in flight are at your tier's limit; "
        "`lane`: admitted, waiting for a free worker of its lane; "
        "`no_worker`: admitted to a queue that no live worker consumes (an operator must start one)."
    )
    position: int = Field(description="1 = next.")
    queue: str | None = Field(default=None, description="The broker queue it waits in (`lane`, `no_worker`).")


class JobPublic(BaseModel):
    id: uuid.UUID
    owner: str
    lane: str
    pipeline: str
    source: str
    source_name: str | None = Field(default=None, description="The source's file name, for people.")
    options: dict[str, Any]
    status: str
    current_stage: str | None
    progress: float
    error: FailurePublic | None
    cancel_requested: bool
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    stages: list[StagePublic]
    rerun_of: uuid.UUID | None = Field(
        default=None, description="The job whose finished stages this re-run reused (POST .../rerun)."
    )
    attempts: list[AttemptPublic] | None = None
    latest_event: EventPublic | None = Field(
        default=None, description="The job's most recent progress event (stage percent and message)."
    )
    waiting: WaitingPublic | None = Field(default=None, description="Why the job waits, when it does.")
    links: Links


class JobAccepted(BaseModel):
    id: uuid.UUID
    status: str
    links: Links


class JobList(BaseModel):
    jobs: list[JobPublic]
    next_cursor: str | None


class UploadPublic(BaseModel):
    id: uuid.UUID
    filename: str
    content_type: str | None
    size: int
    sha256: str
    source: str = Field(description="Pass this as a job's `source`.")
    created_at: datetime


class ArtifactPublic(BaseModel):
    name: str
    content_type: str
    size: int
    url: str
    created_at: datetime


class ArtifactList(BaseModel):
    artifacts: list[ArtifactPublic]


class LimitsPublic(BaseModel):
    concurrency: int = Field(description="Stages of your jobs queued or running at once.")
    monthly_media_minutes: float | None = Field(description="None: unlimited.")
    monthly_jobs: int | None = Field(description="None: unlimited.")
    submits_per_minute: int | None = Field(description="Per API key. None: unlimited.")


class UsagePublic(BaseModel):
    period: str = Field(description="The calendar month (UTC), e.g. 2026-12.")
    jobs: int
    media_minutes: float
    period_ends: datetime


class MePublic(BaseModel):
    id: str
    name: str
    tier: str = Field(description="free, pro or enterprise.")
    admin: bool
    lane: str = Field(description="The lane your jobs run in unless you ask for a slower one.")
    limits: LimitsPublic
    usage: UsagePublic
    webhook_secret: str = Field(
        description="The `whsec_` secret what mediajobs sends you is signed with (Standard Webhooks: "
        "`webhook-id`, `webhook-timestamp`, `webhook-signature` headers), e.g. a video job's publish."
    )


class ConsumerPublic(BaseModel):
    worker: str = Field(description="The worker process's id (`<name>:<pid>:<random>`).")
    hostname: str
    pid: int
    concurrency: int = Field(description="How many stages it runs at once.")
    last_seen: datetime = Field(description="Its last heartbeat (every few seconds while it lives).")


class QueuePublic(BaseModel):
    name: str = Field(description="The broker queue.")
    kind: str = Field(description="The queue kind it carries (`maintenance`: the upkeep tasks).")
    lane: str | None = Field(description="The lane it serves; none for `maintenance`.")
    consumers: list[ConsumerPublic] = Field(description="Live workers that consume it; empty: nobody does.")
    length: int | None = Field(
        description="Messages waiting in the broker (none: the broker did not answer)."
    )
    waiting: int = Field(description="Stages admitted to it and not yet claimed (from the database).")
    oldest_waiting_seconds: float | None = Field(
        description="How long the longest-waiting of them has been due."
    )


class QueueList(BaseModel):
    queues: list[QueuePublic]


class WorkerPublic(BaseModel):
    id: str = Field(description="The worker process's id (`<name>:<pid>:<random>`), as in its heartbeats.")
    hostname: str
    pid: int
    queues: list[str] = Field(description="The queues it consumes.")
    concurrency: int = Field(description="How many stages it runs at once.")
    started_at: datetime
    last_seen: datetime = Field(description="Its last heartbeat (every few seconds while it lives).")
    running: int = Field(description="Stages its pool processes run now.")


class RunningStagePublic(BaseModel):
    job_id: uuid.UUID
    pipeline: str
    stage: str
    queue: str = Field(description="The queue its message came from.")
    lane: str
    attempt: int
    worker: str | None = Field(description="The worker process that runs it (none: not a mediajobs worker).")
    worker_live: bool = Field(description="False: that worker stopped beating; the lease runs out soon.")
    runner: str | None = Field(description="The lease holder: `<worker id>/<pool process pid>`.")
    started_at: datetime | None
    running_seconds: float | None = Field(description="Since the stage first started.")
    lease_expires_at: datetime | None
    progress: float = Field(description="Percent of the stage done, as it last reported.")


class WorkerList(BaseModel):
    workers: list[WorkerPublic] = Field(description="Live workers, oldest first.")
    running: list[RunningStagePublic] = Field(description="Stages running now, longest-running first.")


class Readiness(BaseModel):
    status: str
    database: str
    broker: str


# -- domain -> public --------------------------------------------------------------------------


def error_public(error: ErrorInfo | None) -> ErrorPublic | None:
    return None if error is None else ErrorPublic(code=error.code, message=error.message)


def failure_public(error: ErrorInfo | None) -> FailurePublic | None:
    if error is None:
        return None
    return FailurePublic(code=error.code, message=error.message, retryable=error.retryable)


def job_links(job_id: uuid.UUID) -> Links:
    base = f"/api/v1/jobs/{job_id}"
    return Links(self=base, result=f"{base}/result", artifacts=f"{base}/artifacts", cancel=f"{base}/cancel")


def stage_public(run: StageRun) -> StagePublic:
    return StagePublic(
        name=run.name,
        kind=run.kind,
        status=run.status.value,
        attempts=run.attempts,
        progress=run.progress,
        error=failure_public(run.error),
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


def attempt_public(attempt: Attempt) -> AttemptPublic:
    return AttemptPublic(
        stage=attempt.stage,
        number=attempt.number,
        worker=attempt.worker,
        started_at=attempt.started_at,
        finished_at=attempt.finished_at,
        outcome=attempt.outcome,
        error=error_public(attempt.error),
    )


def event_public(event: ProgressEvent) -> EventPublic:
    return EventPublic.model_validate(event.to_json())


def job_public(
    job: Job,
    attempts: tuple[Attempt, ...] | None = None,
    *,
    latest_event: ProgressEvent | None = None,
    waiting: Waiting | None = None,
) -> JobPublic:
    return JobPublic(
        id=job.id,
        owner=job.owner_id,
        lane=job.lane,
        pipeline=job.pipeline,
        source=job.source,
        source_name=job.source_name,
        options=job.options,
        status=job.status.value,
        current_stage=job.current_stage,
        progress=job.progress,
        error=failure_public(job.error),
        cancel_requested=job.cancel_requested_at is not None,
        created_at=job.created_at,
        updated_at=job.updated_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        stages=[stage_public(s) for s in job.stages],
        rerun_of=job.rerun_of,
        attempts=None if attempts is None else [attempt_public(a) for a in attempts],
        latest_event=None if latest_event is None else event_public(latest_event),
        waiting=None
        if waiting is None
        else WaitingPublic(reason=waiting.reason, position=waiting.position, queue=waiting.queue),
        links=job_links(job.id),
    )


def upload_public(upload: Upload) -> UploadPublic:
    return UploadPublic(
        id=upload.id,
        filename=upload.filename,
        content_type=upload.content_type,
        size=upload.size,
        sha256=upload.sha256,
        source=f"upload://{upload.id}",
        created_at=upload.created_at,
    )


def artifact_public(artifact: Artifact) -> ArtifactPublic:
    return ArtifactPublic(
        name=artifact.name,
        content_type=artifact.content_type,
        size=artifact.size,
        url=f"/api/v1/jobs/{artifact.job_id}/artifacts/{artifact.name}",
        created_at=artifact.created_at,
    )
