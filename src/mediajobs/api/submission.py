"""Accepting work: read a submit request (JSON or multipart), store its upload, write the job.

Routes call `read_submit` and `submit_job`; nothing here is specific to one route, so other front
doors (the OpenAI-compatible transcription route of the roadmap) reuse the same parsing and checks.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from mediajobs.api.schemas import JobCreate
from mediajobs.domain import Job, Upload
from mediajobs.domain.tenancy import Tier, lane_for
from mediajobs.errors import InvalidRequest, NotFound, PayloadTooLarge
from mediajobs.netguard import refuse_private_literal
from mediajobs.services import Services
from mediajobs.storage import Storage, safe_filename, upload_key
from mediajobs.store import JobStore

_CHUNK = 1024 * 1024
DEFAULT_PIPELINE = "transcribe"


@dataclass(frozen=True, kw_only=True, slots=True)
class SubmitRequest:
    """What a client asked for, parsed but not yet checked against the pipeline."""

    pipeline: str
    source: str
    options: dict[str, Any]
    body_hash: str | None = None  # set for uploads: the file's hash stands in for its source
    upload: Upload | None = None
    lane: str | None = None  # a slower lane than the user's own, if they ask


def request_hash(pipeline: str, source: str, options: Mapping[str, Any]) -> str:
    """Fingerprint of a submit body, to tell an idempotent replay from a reused key."""
    canonical = json.dumps({"pipeline": pipeline, "source": source, "options": options}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def read_submit(request: Request, services: Services, owner_id: str) -> SubmitRequest:
    """A JSON body with a source, or a multipart body with the media file itself (stored as an
    upload once the pipeline and options are known to be acceptable)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidRequest("multipart submit needs a `file` part", code="missing_file")
            pipeline = str(form.get("pipeline") or DEFAULT_PIPELINE)
            spec = services.pipelines.get_pipeline(pipeline)  # refuse a bad request before storing its file
            options = spec.validate_options(parse_options(form.get("options")))
            lane = form.get("lane")
            lane = str(lane) if isinstance(lane, str) and lane else None
            saved = await save_upload_file(services, owner_id, upload)
        return SubmitRequest(
            pipeline=pipeline,
            source=f"upload://{saved.id}",
            options=options,
            body_hash=request_hash(pipeline, f"sha256:{saved.sha256}", options),
            upload=saved,
            lane=lane,
        )
    if content_type.startswith("application/json") or not content_type:
        try:
            body = JobCreate.model_validate_json(await request.body())
        except ValidationError as exc:
            raise InvalidRequest(describe(exc), code="validation_error") from None
        return SubmitRequest(pipeline=body.pipeline, source=body.source, options=body.options, lane=body.lane)
    raise InvalidRequest(
        f"unsupported content type {content_type[:100]!r}: send application/json or multipart/form-data",
        code="unsupported_content_type",
    )


def parse_options(raw: object) -> dict[str, Any]:
    """The `options` form field: a JSON object in a string."""
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


def describe(exc: ValidationError, limit: int = 5) -> str:
    """A bounded, readable summary of a validation error (the first few problems)."""
    errors = exc.errors()
    parts = [f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in errors[:limit]]
    if len(errors) > limit:
        parts.append(f"and {len(errors) - limit} more")
    return "; ".join(parts)


def submit_job(
    store: JobStore,
    submit: SubmitRequest,
    *,
    owner_id: str,
    tier: Tier = Tier.ENTERPRISE,
    idempotency_key: str | None = None,
    allow_private_sources: bool = False,
) -> tuple[Job, bool]:
    """Check the request against its pipeline and the user's tier, and write the job; (job, created)."""
    spec = store.pipelines.get_pipeline(submit.pipeline)
    lane = lane_for(tier, submit.lane)
    clean_source = spec.validate_source(submit.source)
    scheme = urlsplit(clean_source).scheme
    if not allow_private_sources and scheme in ("http", "https"):
        refuse_private_literal(urlsplit(clean_source).hostname)
    clean_options = spec.validate_options(submit.options)
    source_name: str | None = None
    if scheme == "upload":
        upload_id = _upload_id(clean_source)
        upload = submit.upload
        if upload is None or upload.id != upload_id:
            try:
                upload = store.get_upload(upload_id, owner_id)
            except NotFound:
                raise InvalidRequest(f"no upload with id {upload_id}", code="upload_not_found") from None
        clean_source = f"upload://{upload_id}"
        source_name = upload.filename
    if idempotency_key is not None:
        idempotency_key = idempotency_key.strip()
        if not idempotency_key or len(idempotency_key) > 200:
            raise InvalidRequest(
                "Idempotency-Key must be 1 to 200 characters", code="invalid_idempotency_key"
            )
    return store.create_job(
        owner_id=owner_id,
        pipeline=spec,
        source=clean_source,
        options=clean_options,
        idempotency_key=idempotency_key,
        request_hash=submit.body_hash or request_hash(spec.name, clean_source, clean_options),
        source_name=source_name,
        lane=lane,
    )


def _upload_id(source: str) -> uuid.UUID:
    try:
        return uuid.UUID(urlsplit(source).netloc)
    except ValueError:
        raise InvalidRequest(f"malformed upload id in {source[:200]!r}", code="invalid_source") from None


def _bounded(stream: BinaryIO, max_bytes: int) -> Iterator[bytes]:
    size = 0
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"upload exceeds the limit of {max_bytes} bytes")
        yield chunk
    if size == 0:
        raise InvalidRequest("the uploaded file is empty", code="empty_upload")


def save_upload(
    store: JobStore,
    storage: Storage,
    *,
    owner_id: str,
    stream: BinaryIO,
    filename: str | None,
    content_type: str | None,
    max_bytes: int,
) -> Upload:
    """Copy an uploaded stream into storage (hashing it, bounding its size), then record it."""
    upload_id = uuid.uuid4()
    name = safe_filename(filename or "upload", default="upload")
    key = upload_key(upload_id, name)
    stored = storage.write(key, _bounded(stream, max_bytes))  # nothing is stored if it raises
    try:
        return store.create_upload(
            upload_id=upload_id,
            owner_id=owner_id,
            filename=name,
            content_type=content_type,
            size=stored.size,
            sha256=stored.sha256 or "",
            key=key,
        )
    except BaseException:
        storage.delete(key)
        raise


async def save_upload_file(services: Services, owner_id: str, file: UploadFile) -> Upload:
    """`save_upload` for a multipart file part, off the event loop."""
    return await run_in_threadpool(
        save_upload,
        services.store,
        services.storage,
        owner_id=owner_id,
        stream=file.file,
        filename=file.filename,
        content_type=file.content_type,
        max_bytes=services.settings.upload_max_bytes,
    )


__all__ = [
    "SubmitRequest",
    "describe",
    "parse_options",
    "read_submit",
    "request_hash",
    "save_upload",
    "save_upload_file",
    "submit_job",
]
