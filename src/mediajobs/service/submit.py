"""Submit: check a request against its pipeline, the engines and the caller's tier; write the job;
admit and publish what it made ready. Every front door (HTTP JSON or multipart, the CLI through the
API, the OpenAI-compatible routes) submits through here.

An upload the request brought along that no job keeps (a refused submit, or an idempotent replay,
which answers the first submit's job) is removed here, so a front door never leaves one behind.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from mediajobs.capabilities import SubmitInput
from mediajobs.domain import Job, JobStatus, Pipeline, Upload
from mediajobs.domain.metering import check_characters
from mediajobs.domain.tenancy import TierLimits, Usage, lane_for
from mediajobs.errors import InvalidRequest, NotFound, TooManyRequests
from mediajobs.hooks import JobSubmitted
from mediajobs.hooks.webhooks import Webhooks
from mediajobs.netguard import check_callback_url, refuse_private_literal
from mediajobs.store import Caller
from mediajobs.wiring import Services


@dataclass(frozen=True, kw_only=True, slots=True)
class SubmitRequest:
    """What a client asked for, parsed but not yet checked against the pipeline."""

    pipeline: str
    source: str
    options: dict[str, Any]
    body_hash: str | None = None  # set for uploads: the file's hash stands in for its source
    upload: Upload | None = None  # the file the request brought along (already stored)
    lane: str | None = None  # a slower lane than the user's own, if they ask
    text: str | None = None  # a JSON submit's `text` (its upload holds the same), for the pipeline's check
    callback_url: str | None = None  # where to POST the job's JSON when it ends (a webhook)


def request_hash(
    pipeline: str, source: str, options: Mapping[str, Any], callback_url: str | None = None
) -> str:
    """Fingerprint of a submit body, to tell an idempotent replay from a reused key."""
    body: dict[str, Any] = {"pipeline": pipeline, "source": source, "options": options}
    if callback_url is not None:
        body["callback_url"] = callback_url
    canonical = json.dumps(body, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_callback(services: Services, owner_id: str, url: str | None) -> str | None:
    """A job's or batch's `callback_url`, checked: the address rules (netguard), and not an endpoint
    disabled for this user (its receiver answered 410 Gone)."""
    if url is None:
        return None
    clean = check_callback_url(url, allow_private=services.settings.allow_private_sources)
    disabled = services.store.endpoints.disabled(owner_id, Webhooks.name, clean)
    if disabled is not None:
        raise InvalidRequest(
            f"callback_url is disabled: it answered 410 Gone on "
            f"{disabled.disabled_at.isoformat(timespec='seconds')}; enable it again with "
            f"POST /api/v1/me/webhook-endpoints/{disabled.id}/enable",
            code="callback_disabled",
        )
    return clean


def submit(
    services: Services, caller: Caller, request: SubmitRequest, *, idempotency_key: str | None = None
) -> tuple[Job, bool]:
    """Write the job (or find the one an Idempotency-Key already made); (job, created)."""
    try:
        job, created = services.dispatcher.settled(_write, services, caller, request, idempotency_key)
    except BaseException:
        if request.upload is not None:
            discard_upload(services, request.upload)
        raise
    if request.upload is not None and job.source != f"upload://{request.upload.id}":
        discard_upload(services, request.upload)  # a replay: the first submit's job has its own copy
    if created:
        announce(services, caller, job)
    return job, created


def announce(services: Services, caller: Caller, job: Job) -> None:
    """Tell the hooks a job was written (after its commit)."""
    services.hooks.job_submitted(
        JobSubmitted(
            job_id=job.id,
            owner_id=job.owner_id,
            pipeline=job.pipeline,
            lane=job.lane,
            tier=caller.user.tier.value if caller.user.id == job.owner_id else None,
            rerun_of=job.rerun_of,
        )
    )


def discard_upload(services: Services, upload: Upload) -> None:
    """Remove an upload (row and file) unless a job refers to it."""
    removed = services.store.uploads.delete_unused_upload(upload.id)
    if removed is not None:
        services.storage.delete(removed.key)


@dataclass(frozen=True, kw_only=True, slots=True)
class Checked:
    """A submit request checked against its pipeline, the engines and the caller: what to write."""

    pipeline: Pipeline
    source: str
    options: dict[str, Any]
    source_name: str | None
    upload_id: uuid.UUID | None
    callback_url: str | None = None


def check_request(services: Services, caller: Caller, request: SubmitRequest) -> Checked:
    """InvalidRequest (or NotFound for another user's job) unless the request can become a job."""
    store = services.store
    owner_id = caller.user.id
    spec = services.pipelines.get_pipeline(request.pipeline)
    clean_source = spec.validate_source(request.source)
    scheme = urlsplit(clean_source).scheme
    if not services.settings.allow_private_sources and scheme in ("http", "https"):
        refuse_private_literal(urlsplit(clean_source).hostname)
    clean_options = spec.validate_options(request.options)
    source_name: str | None = None
    source_job: Job | None = None
    if scheme == "job":
        source_job = _source_job(services, clean_source, owner_id)
        clean_source = f"job://{source_job.id}"
    if scheme == "upload":
        upload_id = _upload_id(clean_source)
        upload = request.upload
        if upload is None or upload.id != upload_id:
            try:
                upload = store.uploads.get_upload(upload_id, owner_id)
            except NotFound:
                raise InvalidRequest(f"no upload with id {upload_id}", code="upload_not_found") from None
        clean_source = f"upload://{upload_id}"
        source_name = upload.filename
    clean_options = services.capabilities.check(
        spec, clean_options, _given(services, owner_id, source_name, source_job, request.text)
    )
    return Checked(
        pipeline=spec,
        source=clean_source,
        options=clean_options,
        source_name=source_name,
        upload_id=_upload_id(clean_source) if scheme == "upload" else None,
        callback_url=check_callback(services, owner_id, request.callback_url),
    )


def _write(
    services: Services, caller: Caller, request: SubmitRequest, idempotency_key: str | None
) -> tuple[Job, bool]:
    lane = lane_for(caller.user.tier, request.lane)
    limits = services.settings.tier_limits()[caller.user.tier]
    if request.text is not None and services.pipelines.get_pipeline(request.pipeline).text_meter is not None:
        check_text_fits(limits, caller.usage, len(request.text), services.store.db.clock())
    checked = check_request(services, caller, request)
    spec, clean_source, clean_options = checked.pipeline, checked.source, checked.options
    if idempotency_key is not None:
        idempotency_key = idempotency_key.strip()
        if not idempotency_key or len(idempotency_key) > 200:
            raise InvalidRequest(
                "Idempotency-Key must be 1 to 200 characters", code="invalid_idempotency_key"
            )
    return services.store.jobs.create_job(
        owner_id=caller.user.id,
        pipeline=spec,
        source=clean_source,
        options=clean_options,
        idempotency_key=idempotency_key,
        request_hash=request.body_hash
        or request_hash(spec.name, clean_source, clean_options, checked.callback_url),
        source_name=checked.source_name,
        lane=lane,
        quota=limits,
        callback_url=checked.callback_url,
    )


def check_text_fits(limits: TierLimits, usage: Usage, characters: int, now: datetime) -> None:
    """429 `quota_exceeded` when a text alone passes the characters left this month. (`read_text`
    counts it again, exactly, under the usage row lock: this answers at once without writing a job.)"""
    verdict = check_characters(limits, usage, characters, now)
    if not verdict.allowed:
        raise TooManyRequests(verdict.message, code="quota_exceeded", retry_after=verdict.retry_after)


def stored_input(services: Services, job: Job) -> SubmitInput:
    """What a written job's source is, for the pipeline's check run again (a re-run's merged options):
    its upload's file name, or the finished job a `job://` source names."""
    source_job = None
    if urlsplit(job.source).scheme == "job":
        source_job = _source_job(services, job.source, job.owner_id)
    return _given(services, job.owner_id, job.source_name, source_job, None)


def _given(
    services: Services, owner_id: str, filename: str | None, job: Job | None, text: str | None
) -> SubmitInput:
    """What the source is, for the pipeline's check."""
    media = tuple(name for name, p in services.pipelines.items() if p.media_result)
    source_pipeline: Pipeline | None = services.pipelines.get(job.pipeline) if job is not None else None
    return SubmitInput(
        filename=filename,
        job=job,
        media_result=source_pipeline is not None and source_pipeline.media_result,
        media_pipelines=media,
        text=text,
        find_upload=lambda upload_id: services.store.uploads.get_upload(upload_id, owner_id),
    )


def _source_job(services: Services, source: str, owner_id: str) -> Job:
    """The caller's own finished job a `job://` source names (anybody else's is not found)."""
    try:
        job_id = uuid.UUID(urlsplit(source).netloc)
    except ValueError:
        raise InvalidRequest(f"malformed job id in {source[:200]!r}", code="invalid_source") from None
    job = services.store.jobs.get_job(job_id, owner_id)
    if job.status is not JobStatus.SUCCEEDED:
        raise InvalidRequest(
            f"job {job_id} is {job.status.value}: only a succeeded job can be a source",
            code="source_job_not_finished",
        )
    return job


def _upload_id(source: str) -> uuid.UUID:
    try:
        return uuid.UUID(urlsplit(source).netloc)
    except ValueError:
        raise InvalidRequest(f"malformed upload id in {source[:200]!r}", code="invalid_source") from None


__all__ = [
    "Checked",
    "SubmitRequest",
    "announce",
    "check_callback",
    "check_request",
    "discard_upload",
    "request_hash",
    "stored_input",
    "submit",
]
