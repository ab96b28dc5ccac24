"""Jobs: submit, read, list, cancel, and their results and artifacts."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from mediajobs.api.deps import CurrentUser, JobId, ServicesDep, StoreDep
from mediajobs.api.schemas import (
    ArtifactList,
    ErrorBody,
    JobAccepted,
    JobCreate,
    JobList,
    JobPublic,
    artifact_public,
    job_links,
    job_public,
)
from mediajobs.api.submission import request_hash, save_upload_file, submit_job
from mediajobs.domain import JobStatus, get_pipeline
from mediajobs.errors import Conflict, InvalidRequest

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such job"},
    409: {"model": ErrorBody, "description": "The job is in the wrong state"},
}

_SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/JobCreate"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "pipeline": {"type": "string", "default": "transcribe"},
                        "options": {"type": "string", "description": "JSON object of pipeline options"},
                    },
                }
            },
        },
    }
}


@router.post(
    "",
    status_code=202,
    response_model=JobAccepted,
    responses={422: {"model": ErrorBody}, 409: {"model": ErrorBody}, 413: {"model": ErrorBody}},
    openapi_extra=_SUBMIT_BODY,
)
async def create_job(
    request: Request,
    response: Response,
    background: BackgroundTasks,
    services: ServicesDep,
    owner: CurrentUser,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JobAccepted:
    """Submit a job: JSON with a source URL or upload id, or multipart with the media file itself."""
    content_type = request.headers.get("content-type", "")
    body_hash: str | None = None
    if content_type.startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidRequest("multipart submit needs a `file` part", code="missing_file")
            pipeline = str(form.get("pipeline") or "transcribe")
            options = _parse_options(form.get("options"))
            spec = get_pipeline(pipeline)  # refuse a bad request before storing its file
            options = spec.validate_options(options)
            saved = await save_upload_file(services, owner, upload)
        source = f"upload://{saved.id}"
        body_hash = request_hash(pipeline, f"sha256:{saved.sha256}", options)
    elif content_type.startswith("application/json") or not content_type:
        try:
            body = JobCreate.model_validate_json(await request.body())
        except ValidationError as exc:
            raise InvalidRequest(_describe(exc), code="validation_error") from None
        pipeline, source, options = body.pipeline, body.source, body.options
    else:
        raise InvalidRequest(
            f"unsupported content type {content_type!r}: send application/json or multipart/form-data",
            code="unsupported_content_type",
        )
    job, created = await run_in_threadpool(
        submit_job,
        services.store,
        owner_id=owner,
        pipeline=pipeline,
        source=source,
        options=options,
        idempotency_key=idempotency_key,
        body_hash=body_hash,
        allow_private_sources=services.settings.allow_private_sources,
    )
    if created:
        background.add_task(services.publish_soon, job.id)
    else:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return JobAccepted(id=job.id, status=job.status.value, links=job_links(job.id))


def _parse_options(raw: object) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if not isinstance(raw, str):
        raise InvalidRequest("`options` must be a JSON object string", code="invalid_options")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"`options` is not valid JSON: {exc.msg}", code="invalid_options") from None
    if not isinstance(value, dict):
        raise InvalidRequest("`options` must be a JSON object", code="invalid_options")
    return value


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()
    )


@router.get("", response_model=JobList)
def list_jobs(
    store: StoreDep,
    owner: CurrentUser,
    status: JobStatus | None = None,
    pipeline: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> JobList:
    """List jobs, newest first; pass `next_cursor` back as `cursor` for the next page."""
    page = store.list_jobs(owner_id=owner, status=status, pipeline=pipeline, limit=limit, cursor=cursor)
    return JobList(jobs=[job_public(j) for j in page.jobs], next_cursor=page.next_cursor)


@router.get("/{job_id}", response_model=JobPublic, responses=ERRORS)
def get_job(job_id: JobId, store: StoreDep, owner: CurrentUser) -> JobPublic:
    """A job's status, progress, stages and attempt history."""
    job = store.get_job(job_id, owner)
    return job_public(job, store.list_attempts(job_id), latest_event=store.latest_event(job_id))


@router.post("/{job_id}/cancel", response_model=JobPublic, responses=ERRORS)
def cancel_job(job_id: JobId, store: StoreDep, owner: CurrentUser) -> JobPublic:
    """Cancel a job: a queued job never starts; a running stage is stopped."""
    return job_public(store.request_cancel(job_id, owner))


@router.post("/{job_id}/retry", status_code=202, response_model=JobPublic, responses=ERRORS)
def retry_job(
    job_id: JobId, services: ServicesDep, owner: CurrentUser, background: BackgroundTasks
) -> JobPublic:
    """Re-run a failed or cancelled job from its first unfinished stage, with a fresh retry budget."""
    job = services.store.retry_job(job_id, owner)
    background.add_task(services.publish_soon, job.id)
    return job_public(job, services.store.list_attempts(job_id))


@router.get("/{job_id}/result", responses=ERRORS)
def get_result(job_id: JobId, services: ServicesDep, owner: CurrentUser) -> FileResponse:
    """The job's main result (for `transcribe`, the transcript JSON); 409 until the job succeeded."""
    job = services.store.get_job(job_id, owner)
    if job.status is not JobStatus.SUCCEEDED:
        detail = f" ({job.error.code}: {job.error.message})" if job.error else ""
        raise Conflict(
            f"job {job_id} is {job.status.value}, not succeeded{detail}", code=f"job_{job.status.value}"
        )
    artifact = services.store.get_artifact(job_id, "transcript.json")
    return FileResponse(services.storage.resolve(artifact.path), media_type="application/json")


@router.get("/{job_id}/artifacts", response_model=ArtifactList, responses=ERRORS)
def list_artifacts(job_id: JobId, store: StoreDep, owner: CurrentUser) -> ArtifactList:
    """The job's result files."""
    store.get_job(job_id, owner)
    return ArtifactList(artifacts=[artifact_public(a) for a in store.list_artifacts(job_id)])


@router.get("/{job_id}/artifacts/{name}", responses=ERRORS)
def get_artifact(job_id: JobId, name: str, services: ServicesDep, owner: CurrentUser) -> FileResponse:
    """Download one result file (transcript.srt, transcript.vtt, transcript.txt, transcript.json)."""
    services.store.get_job(job_id, owner)
    artifact = services.store.get_artifact(job_id, name)
    return FileResponse(
        services.storage.resolve(artifact.path), media_type=artifact.content_type, filename=artifact.name
    )
