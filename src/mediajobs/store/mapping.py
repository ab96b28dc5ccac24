"""Rows to domain records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mediajobs.domain import (
    Artifact,
    Attempt,
    ErrorInfo,
    Job,
    JobStatus,
    Pipeline,
    StageRun,
    StageStatus,
    Upload,
)
from mediajobs.domain.events import EventType, ProgressEvent
from mediajobs.domain.transitions import job_progress


def _error(code: str | None, message: str | None, retryable: bool | None = None) -> ErrorInfo | None:
    if code is None:
        return None
    return ErrorInfo(code=code, message=message or "", retryable=retryable is not False)


def stage_from_row(row: Any) -> StageRun:
    return StageRun(
        job_id=row.job_id,
        name=row.name,
        kind=row.kind,
        status=StageStatus(row.status),
        run=row.run,
        parent=row.parent,
        index=row.child_index,
        params=row.params,
        routed_lane=row.routed_lane,
        attempts=row.attempts,
        budget_start=row.budget_start,
        output=row.output,
        error=_error(row.error_code, row.error_message, row.error_retryable),
        progress=row.progress,
        fence=row.fence,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
        available_at=row.available_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def job_from_row(row: Any, stages: Iterable[Any] = (), pipeline: Pipeline | None = None) -> Job:
    """A job and its stage runs (in graph order)."""
    runs = tuple(stage_from_row(s) for s in sorted(stages, key=lambda s: s.position))
    return job_with_runs(row, runs, pipeline)


def job_with_runs(row: Any, runs: tuple[StageRun, ...], pipeline: Pipeline | None = None) -> Job:
    """A job from its row and its (already mapped) runs. With its pipeline, the job's progress is
    computed from the runs (progress ticks do not write the job row); otherwise the stored value."""
    return Job(
        id=row.id,
        owner_id=row.owner_id,
        pipeline=row.pipeline,
        source=row.source,
        options=dict(row.options or {}),
        status=JobStatus(row.status),
        current_stage=row.current_stage,
        progress=row.progress if pipeline is None or not runs else job_progress(pipeline, runs),
        error=_error(row.error_code, row.error_message, row.error_retryable),
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        cancel_requested_at=row.cancel_requested_at,
        manual_retries=row.manual_retries,
        lane=row.lane,
        source_name=row.source_name,
        rerun_of=row.rerun_of,
        media_seconds=row.media_seconds,
        batch_id=row.batch_id,
        batch_index=row.batch_index,
        item_name=row.item_name,
        callback_url=row.callback_url,
        stages=runs,
    )


def attempt_from_row(row: Any) -> Attempt:
    return Attempt(
        job_id=row.job_id,
        stage=row.stage,
        number=row.number,
        worker=row.worker,
        started_at=row.started_at,
        finished_at=row.finished_at,
        outcome=row.outcome,
        error=_error(row.error_code, row.error_message),
    )


def upload_from_row(row: Any) -> Upload:
    return Upload(
        id=row.id,
        owner_id=row.owner_id,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        key=row.storage_key,
        created_at=row.created_at,
    )


def artifact_from_row(row: Any) -> Artifact:
    return Artifact(
        job_id=row.job_id,
        name=row.name,
        content_type=row.content_type,
        size=row.size,
        key=row.storage_key,
        created_at=row.created_at,
    )


def event_from_row(row: Any) -> ProgressEvent:
    return ProgressEvent(
        id=row.id,
        job_id=row.job_id,
        owner_id=row.owner_id,
        seq=row.seq,
        type=EventType(row.type),
        status=row.status,
        stage=row.stage,
        stage_status=row.stage_status,
        stage_percent=row.stage_percent,
        job_percent=row.job_percent,
        file=row.file,
        message=row.message,
        at=row.at,
    )
