"""Request and response bodies of the HTTP API (the job and batch JSON are mediajobs.public's: webhooks
send them too)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mediajobs.api.guards import MAX_OPTION_KEYS, NO_CONTROL, NO_CONTROL_IN_TEXT
from mediajobs.domain import Artifact, Upload
from mediajobs.public import ErrorPublic, JobPublic, Links


class ErrorBody(BaseModel):
    error: ErrorPublic


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
MAX_CALLBACK_URL = 2048
# What api/guards.py checks of a body's strings, stated in the schema (the checks stay where they are).
_PLAIN: dict[str, Any] = {"pattern": NO_CONTROL}
_TEXT: dict[str, Any] = {"pattern": NO_CONTROL_IN_TEXT}
_OPTIONS: dict[str, Any] = {"maxProperties": MAX_OPTION_KEYS, "propertyNames": {"pattern": NO_CONTROL}}


CALLBACK_URL: dict[str, Any] = dict(
    max_length=MAX_CALLBACK_URL,
    examples=["https://example.com/hooks/mediajobs"],
    description="An https URL to POST the JSON to when it ends, signed the Standard Webhooks way with "
    "your `webhook_secret` (docs/webhooks.md); a public host unless the operator allows private ones.",
    json_schema_extra=_PLAIN,
)
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
    callback_url: str | None = Field(default=None, **CALLBACK_URL)


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
    stored_bytes: int | None = Field(
        description="Bytes you may keep stored at once (uploads, media, artifacts; not monthly: "
        "deleting frees room). None: unlimited."
    )
    monthly_characters: int | None = Field(
        default=None, description="Text read by translate and synthesize jobs. None: unlimited."
    )


class UsagePublic(BaseModel):
    period: str = Field(description="The calendar month (UTC), e.g. 2026-12.")
    jobs: int
    media_minutes: float = Field(
        description="Media charged: jobs that ended (their media, or a synthesize job's speech)."
    )
    reserved_media_minutes: float = Field(
        default=0.0,
        description="Media held by your running jobs, charged when each ends; counts against the quota.",
    )
    characters: int = Field(default=0, description="Text read by translate and synthesize jobs.")
    period_ends: datetime
    stored_bytes: int = Field(
        description="Bytes you keep stored now (uploads, your jobs' media and artifacts); not per period."
    )


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
        "`webhook-id`, `webhook-timestamp`, `webhook-signature` headers): webhooks, a video's publish."
    )
    webhook_secret_previous_until: datetime | None = Field(
        default=None,
        description="After POST /api/v1/me/webhook-secret/rotate: until then messages also carry a "
        "signature with the previous secret.",
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
    storage: str


# -- domain -> public --------------------------------------------------------------------------


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
