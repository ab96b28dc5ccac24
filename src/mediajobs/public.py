"""The public JSON of jobs and batches: what the API answers (GET /api/v1/jobs/{id}, GET
/api/v1/batches/{id}) and what a webhook sends (`data` of its message, hooks/webhooks.py).

One definition for both, below the API and the worker that sends webhooks, so a receiver gets exactly
the document the API would answer for the same job at the same moment.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from mediajobs.domain import Attempt, Batch, ErrorInfo, Job, JobStatus, StageRun
from mediajobs.domain.events import ProgressEvent
from mediajobs.store import Waiting


class ErrorPublic(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. `unsupported_media`.")
    message: str = Field(description="What went wrong, for humans.")


class FailurePublic(ErrorPublic):
    retryable: bool = Field(
        description="False when the failure is permanent (the same input fails again, e.g. "
        "`unsupported_media`); `mediajobs retry --failed` skips those."
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

    id: int = Field(
        description="The event's id in `GET /api/v1/events` (opaque: unique, not in order; send the last "
        "one back as `Last-Event-ID`)."
    )
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
        "`no_worker`: admitted to a queue that no live worker consumes (an operator must start one); "
        "`lane_paused`: an operator paused its lane (the dashboard) and it has not started yet."
    )
    position: int = Field(
        description="1 = next among your own work: your held stages (`user_concurrency`), or your stages "
        "queued ahead of it in its queue (`lane`, `no_worker`); other users' work is never counted."
    )
    queue: str | None = Field(default=None, description="The broker queue it waits in (`lane`, `no_worker`).")


class JobPublic(BaseModel):
    id: uuid.UUID
    owner: str
    lane: str
    pipeline: str
    source: str
    source_name: str | None = Field(default=None, description="The source's file name, for people.")
    options: dict[str, Any]
    status: JobStatus = Field(
        description="`queued`, `running`, or final: `succeeded`, `failed`, `cancelled`, `expired` (its "
        "files removed after the retention), `deleted` (its files removed by its owner)."
    )
    current_stage: str | None
    progress: float
    error: FailurePublic | None
    cancel_requested: bool
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    stages: list[StagePublic]
    callback_url: str | None = Field(
        default=None, description="Where its end is POSTed (a webhook); see GET .../deliveries."
    )
    rerun_of: uuid.UUID | None = Field(
        default=None, description="The job whose finished stages this re-run reused (POST .../rerun)."
    )
    attempts: list[AttemptPublic] | None = None
    latest_event: EventPublic | None = Field(
        default=None, description="The job's most recent progress event (stage percent and message)."
    )
    waiting: WaitingPublic | None = Field(default=None, description="Why the job waits, when it does.")
    links: Links


class BatchItemPublic(BaseModel):
    index: int
    name: str | None
    id: uuid.UUID = Field(description="The item's job.")
    pipeline: str
    status: JobStatus
    progress: float
    error: dict[str, str] | None = None
    links: Links


class BatchPublic(BaseModel):
    id: uuid.UUID
    name: str | None
    status: str = Field(
        description="`running`, or how it ended: `succeeded` (every item), `completed_with_failures` "
        "(all ended, some failed or were cancelled), `failed` (none succeeded), `cancelled`."
    )
    items: int
    counts: dict[str, int] = Field(description="Items by job status.")
    progress: float = Field(description="Ended items, percent.")
    created_at: datetime
    finished_at: datetime | None
    links: dict[str, str]
    item_page: list[BatchItemPublic] | None = Field(
        default=None, description="Items in order (GET /batches/{id}: a page; `next_after` for the next)."
    )
    next_after: int | None = Field(default=None, description="Pass as `after` for the next page of items.")
    callback_url: str | None = Field(default=None, description="Where its end is POSTed (a webhook).")


class BatchList(BaseModel):
    batches: list[BatchPublic]


class JobFinishedMessage(BaseModel):
    """What a webhook POSTs when a job ends (the Standard Webhooks shape: type, timestamp, data)."""

    type: Literal["job.finished"] = "job.finished"
    timestamp: datetime = Field(description="When the job ended.")
    data: JobPublic = Field(description="The job, as GET /api/v1/jobs/{id} answered when it was sent first.")


class BatchFinishedMessage(BaseModel):
    """What a webhook POSTs when a batch ends."""

    type: Literal["batch.finished"] = "batch.finished"
    timestamp: datetime = Field(description="When the batch ended (with its last item).")
    data: BatchPublic = Field(description="The batch, as GET /api/v1/batches lists it (no item page).")


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
        callback_url=job.callback_url,
        rerun_of=job.rerun_of,
        attempts=None if attempts is None else [attempt_public(a) for a in attempts],
        latest_event=None if latest_event is None else event_public(latest_event),
        waiting=None
        if waiting is None
        else WaitingPublic(reason=waiting.reason, position=waiting.position, queue=waiting.queue),
        links=job_links(job.id),
    )


def batch_links(batch_id: uuid.UUID) -> dict[str, str]:
    base = f"/api/v1/batches/{batch_id}"
    return {
        "self": base,
        "events": f"{base}/events",
        "cancel": f"{base}/cancel",
        "retry": f"{base}/retry",
        "artifacts": f"{base}/artifacts",
    }


def batch_public(batch: Batch, items: list[Any] | None = None, next_after: int | None = None) -> BatchPublic:
    return BatchPublic(
        id=batch.id,
        name=batch.name,
        status=batch.status.value,
        items=batch.items,
        counts=dict(batch.counts),
        progress=batch.progress,
        created_at=batch.created_at,
        finished_at=batch.finished_at,
        links=batch_links(batch.id),
        item_page=None
        if items is None
        else [
            BatchItemPublic(
                index=row.batch_index,
                name=row.item_name,
                id=row.id,
                pipeline=row.pipeline,
                status=row.status,
                progress=row.progress,
                error=None
                if row.error_code is None
                else {"code": row.error_code, "message": row.error_message or ""},
                links=job_links(row.id),
            )
            for row in items
        ],
        next_after=next_after,
        callback_url=batch.callback_url,
    )


def job_message(document: JobPublic, ended_at: datetime) -> bytes:
    """A job's webhook message: compact JSON, the bytes that are signed and sent."""
    return JobFinishedMessage(timestamp=ended_at, data=document).model_dump_json().encode()


def batch_message(document: BatchPublic, ended_at: datetime) -> bytes:
    return BatchFinishedMessage(timestamp=ended_at, data=document).model_dump_json().encode()


__all__ = [
    "AttemptPublic",
    "BatchFinishedMessage",
    "BatchItemPublic",
    "BatchPublic",
    "ErrorPublic",
    "EventPublic",
    "FailurePublic",
    "JobFinishedMessage",
    "JobPublic",
    "Links",
    "StagePublic",
    "WaitingPublic",
    "attempt_public",
    "batch_links",
    "batch_message",
    "batch_public",
    "error_public",
    "event_public",
    "failure_public",
    "job_links",
    "job_message",
    "job_public",
    "stage_public",
]
