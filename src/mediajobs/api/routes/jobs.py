"""Jobs: submit, read, list, cancel, and their results and artifacts."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from mediajobs import service
from mediajobs.api.deps import CurrentUser, JobId, ServicesDep, StoreDep
from mediajobs.api.downloads import send_object
from mediajobs.api.event_ids import id_keys
from mediajobs.api.guards import check_options, check_text
from mediajobs.api.schemas import (
    BODY_ERRORS,
    MAX_CALLBACK_URL,
    ArtifactList,
    ErrorBody,
    JobAccepted,
    JobList,
    RerunCreate,
    artifact_public,
)
from mediajobs.api.submission import accept_submit
from mediajobs.domain import JobStatus
from mediajobs.errors import Conflict, NotFound
from mediajobs.public import JobPublic, job_links, job_public

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No valid API key"},
    404: {"model": ErrorBody, "description": "No such job"},
    409: {"model": ErrorBody, "description": "The job is in the wrong state"},
}

_GATED: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    429: {"model": ErrorBody, "description": "Past the monthly quota or the submit rate limit"},
}

_ANY_SCHEMA: dict[str, Any] = {"schema": {}}
_FILE: dict[int | str, dict[str, Any]] = {
    # the media types of each pipeline's files are added when the app is built (api/openapi.py)
    200: {"description": "The file's bytes", "content": {"application/octet-stream": _ANY_SCHEMA}},
    307: {"description": "The file is at this (pre-signed) URL of the storage backend"},
    **ERRORS,
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
                        "lane": {
                            "type": "string",
                            "description": "`standard` or `batch`: slower than your tier's",
                        },
                        "callback_url": {
                            "type": "string",
                            "maxLength": MAX_CALLBACK_URL,
                            "description": "An https URL to POST the job's JSON to when it ends (a "
                            "webhook signed with your `webhook_secret`, docs/webhooks.md)",
                        },
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
    responses={
        **BODY_ERRORS,
        409: {"model": ErrorBody, "description": "The Idempotency-Key was used for another request"},
    },
    openapi_extra=_SUBMIT_BODY,
)
async def create_job(
    request: Request,
    response: Response,
    services: ServicesDep,
    owner: CurrentUser,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JobAccepted:
    """Submit a job: JSON with a source URL or upload id, or multipart with the media file itself."""
    response.headers.update(request.app.state.gate.check(owner, services.store.db.clock()))
    job, created = await accept_submit(request, services, owner, idempotency_key)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return JobAccepted(id=job.id, status=job.status.value, links=job_links(job.id))


@router.get("", response_model=JobList)
def list_jobs(
    store: StoreDep,
    owner: CurrentUser,
    status: JobStatus | None = None,
    pipeline: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    id_prefix: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9a-fA-F](-?[0-9a-fA-F]){0,31}$",
            description="Only jobs whose id starts with these hex digits (how the CLI resolves short ids).",
        ),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Only your job submitted with this Idempotency-Key, however long ago (how "
            "`mediajobs watch-folder` remembers the files it took).",
        ),
    ] = None,
) -> JobList:
    """List jobs, newest first (an admin sees everybody's); pass `next_cursor` back as `cursor`."""
    page = store.jobs.list_jobs(
        # a key is the caller's own (keys are unique per user): an admin looks among theirs only
        owner_id=owner.user.id if idempotency_key is not None else owner.scope,
        status=status,
        pipeline=pipeline,
        limit=limit,
        cursor=cursor,
        id_prefix=id_prefix,
        idempotency_key=idempotency_key,
    )
    return JobList(jobs=[job_public(j) for j in page.jobs], next_cursor=page.next_cursor)


@router.get("/{job_id}", response_model=JobPublic, responses=ERRORS)
def get_job(job_id: JobId, request: Request, services: ServicesDep, owner: CurrentUser) -> JobPublic:
    """A job's status, progress, stages, attempt history, and why it waits when it does."""
    store = services.store
    job = store.jobs.get_job(job_id, owner.scope)
    waiting = store.queues.waiting(job, silent_for=services.settings.worker_silence)
    latest = store.events.latest_event(job_id)
    if latest is not None:
        latest = id_keys(request).of(job.owner_id).event(latest)  # the id its owner's streams show
    return job_public(job, store.jobs.list_attempts(job_id), latest_event=latest, waiting=waiting)


@router.post("/{job_id}/cancel", response_model=JobPublic, responses=ERRORS)
def cancel_job(job_id: JobId, services: ServicesDep, owner: CurrentUser) -> JobPublic:
    """Cancel a job: a queued job never starts; a running stage is stopped."""
    return job_public(service.cancel(services, owner, job_id))


@router.delete("/{job_id}", response_model=JobPublic, responses=ERRORS)
def delete_job(job_id: JobId, services: ServicesDep, owner: CurrentUser) -> JobPublic:
    """Delete an ended job's media, work files and artifacts (their bytes no longer count against your
    storage quota); the job stays listed with status `deleted`. 409 while it is queued or running."""
    return job_public(service.delete_job(services, owner, job_id))


@router.post("/{job_id}/retry", status_code=202, response_model=JobPublic, responses=_GATED)
def retry_job(
    job_id: JobId, request: Request, response: Response, services: ServicesDep, owner: CurrentUser
) -> JobPublic:
    """Re-run a failed or cancelled job from its first unfinished stage, with a fresh retry budget
    (under the same monthly quota and submit rate limit as a submit)."""
    response.headers.update(request.app.state.gate.check(owner, services.store.db.clock(), adding=0))
    job = service.retry(services, owner, job_id)
    return job_public(job, services.store.jobs.list_attempts(job_id))


@router.post(
    "/{job_id}/rerun",
    status_code=202,
    response_model=JobPublic,
    responses={**_GATED, **BODY_ERRORS},
)
async def rerun_job(
    job_id: JobId,
    body: RerunCreate,
    request: Request,
    response: Response,
    services: ServicesDep,
    owner: CurrentUser,
) -> JobPublic:
    """A new job of the same source that reuses the finished outputs of the stages before
    `from_stage` (they do not run again) and runs `from_stage` and what follows, with `options`
    over the old job's. The new job's `rerun_of` names the old one."""
    response.headers.update(request.app.state.gate.check(owner, services.store.db.clock()))
    options = check_options(body.options)
    from_stage = check_text(body.from_stage, "from_stage")
    job = await run_in_threadpool(
        service.rerun, services, owner, job_id, from_stage=from_stage, options=options
    )
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return job_public(job)


@router.get("/{job_id}/result", response_class=Response, responses=_FILE)
def get_result(job_id: JobId, services: ServicesDep, owner: CurrentUser) -> Response:
    """The job's main result, the artifact its pipeline declares (for `transcribe`, the transcript
    JSON); 409 until the job succeeded."""
    job = services.store.jobs.get_job(job_id, owner.scope)
    if job.status is not JobStatus.SUCCEEDED:
        detail = f" ({job.error.code}: {job.error.message})" if job.error else ""
        raise Conflict(
            f"job {job_id} is {job.status.value}, not succeeded{detail}", code=f"job_{job.status.value}"
        )
    name = services.pipelines.get_pipeline(job.pipeline).result_name(job.options)
    if name is None:
        raise NotFound(f"pipeline {job.pipeline!r} declares no result; see the job's artifacts")
    artifact = services.store.artifacts.get_artifact(job_id, name)
    return send_object(services.storage, artifact.key, media_type=artifact.content_type)


@router.get("/{job_id}/artifacts", response_model=ArtifactList, responses=ERRORS)
def list_artifacts(job_id: JobId, store: StoreDep, owner: CurrentUser) -> ArtifactList:
    """The job's result files."""
    store.jobs.get_job(job_id, owner.scope)
    return ArtifactList(artifacts=[artifact_public(a) for a in store.artifacts.list_artifacts(job_id)])


@router.get("/{job_id}/artifacts/{name}", response_class=Response, responses=_FILE)
def get_artifact(job_id: JobId, name: str, services: ServicesDep, owner: CurrentUser) -> Response:
    """Download one result file (transcript.srt, transcript.vtt, transcript.txt, transcript.json)."""
    job = services.store.jobs.get_job(job_id, owner.scope)
    if job.status in (JobStatus.DELETED, JobStatus.EXPIRED):
        raise NotFound(f"job {job_id} is {job.status.value}: its artifacts were removed")
    artifact = services.store.artifacts.get_artifact(job_id, name)
    return send_object(
        services.storage, artifact.key, media_type=artifact.content_type, filename=artifact.name
    )
