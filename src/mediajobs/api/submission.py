"""Reading work from HTTP: a submit request (JSON or multipart) with its upload stored, handed to the
application layer's `submit` (service/submit.py), which checks and writes the job.

Routes call `accept_submit` (or `receive_upload`); nothing here is specific to one route, so other
front doors (the OpenAI-compatible transcription route of the roadmap) reuse the same parsing. Every
body is bounded while it streams (Content-Length first, then the bytes themselves); an upload that
does not end up in a job is removed by `submit`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

import anyio
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from mediajobs.api.gate import UploadSlots
from mediajobs.api.guards import check_options, check_text, parse_json_object
from mediajobs.api.multipart import BodyStream, FormFields, FormLimits, MultipartReader
from mediajobs.api.schemas import MAX_CALLBACK_URL, JobCreate
from mediajobs.domain import OPTIONS_SOURCE, Job, Upload
from mediajobs.domain.storage import StorageQuotaExceeded, fits
from mediajobs.domain.storage import describe as describe_room
from mediajobs.errors import ClientError, InvalidRequest, PayloadTooLarge
from mediajobs.netguard import check_callback_url
from mediajobs.service import SubmitRequest, request_hash, store_text, submit
from mediajobs.storage import safe_filename, upload_key
from mediajobs.store import Caller
from mediajobs.wiring import Services

DEFAULT_PIPELINE = "transcribe"
MAX_JSON_BYTES = 1024 * 1024  # a JSON submit: a source and options, never near this

T = TypeVar("T")


# -- reading a request --------------------------------------------------------------------------


def check_length(request: Request, limit: int) -> None:
    """Refuse a body whose announced length is over `limit` before reading any of it."""
    raw = request.headers.get("content-length")
    if raw is None:
        return
    if not raw.strip().isdigit():
        raise ClientError("Content-Length must be a number of bytes", code="invalid_content_length")
    if int(raw) > limit:
        raise PayloadTooLarge(
            f"the request body ({raw.strip()[:20]} bytes) exceeds the limit of {limit} bytes"
        )


async def read_json_body(request: Request, idle_seconds: float, limit: int = MAX_JSON_BYTES) -> bytes:
    check_length(request, limit)
    body = bytearray()
    async for chunk in BodyStream(request.stream(), idle_seconds):
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
    return bytes(body)


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def read_submit(request: Request, services: Services, owner_id: str) -> SubmitRequest:
    """A JSON body with a source, or a multipart body with the media file itself (stored as an
    upload; refused before storing when the fields sent before it are not acceptable)."""
    content_type = request.headers.get("content-type", "")
    if _is_multipart(request):
        upload, (pipeline, options, lane, callback_url) = await _receive_form(
            request, services, owner_id, lambda fields: _form_submit(services, fields)
        )
        return _with_upload(pipeline, upload, options, lane, f"sha256:{upload.sha256}", callback_url)
    if content_type.startswith("application/json") or not content_type:
        raw = await read_json_body(request, services.settings.body_idle_timeout_seconds)
        try:
            body = JobCreate.model_validate_json(raw)
        except ValidationError as exc:
            raise InvalidRequest(describe(exc), code="validation_error") from None
        pipeline = check_text(body.pipeline, "pipeline")
        options = check_options(body.options)
        lane = None if body.lane is None else check_text(body.lane, "lane")
        callback = None if body.callback_url is None else check_text(body.callback_url, "callback_url")
        if body.source is not None and body.text is not None:
            raise InvalidRequest("give either `source` or `text`, not both", code="validation_error")
        if body.source is None and body.text is None:
            if "options" not in services.pipelines.get_pipeline(pipeline).source_schemes:
                raise InvalidRequest("give either `source` or `text`", code="validation_error")
            return SubmitRequest(
                pipeline=pipeline, source=OPTIONS_SOURCE, options=options, lane=lane, callback_url=callback
            )
        if body.text is not None:
            text = check_text(body.text, "text", multiline=True)
            upload = await run_in_threadpool(store_text, services, owner_id, text)
            submitted = _with_upload(pipeline, upload, options, lane, f"text:{upload.sha256}", callback)
            return replace(submitted, text=text)
        source = check_text(body.source or "", "source")
        return SubmitRequest(
            pipeline=pipeline, source=source, options=options, lane=lane, callback_url=callback
        )
    raise InvalidRequest(
        f"unsupported content type {content_type[:100]!r}: send application/json or multipart/form-data",
        code="unsupported_content_type",
    )


def _with_upload(
    pipeline: str,
    upload: Upload,
    options: dict[str, Any],
    lane: str | None,
    fingerprint: str,
    callback_url: str | None = None,
) -> SubmitRequest:
    """A submit whose source is a file it brought along (its hash stands in for the source)."""
    return SubmitRequest(
        pipeline=pipeline,
        source=f"upload://{upload.id}",
        options=options,
        body_hash=request_hash(pipeline, fingerprint, options, callback_url),
        upload=upload,
        lane=lane,
        callback_url=callback_url,
    )


def _form_submit(
    services: Services, fields: Mapping[str, str]
) -> tuple[str, dict[str, Any], str | None, str | None]:
    """(pipeline, options, lane, callback_url) of a multipart submit's fields, checked (the callback's
    address rules too, so a refused one stores no file)."""
    pipeline = check_text(fields.get("pipeline") or DEFAULT_PIPELINE, "pipeline")
    spec = services.pipelines.get_pipeline(pipeline)
    raw = fields.get("options")
    options = parse_json_object(raw, "`options`") if raw else {}
    lane = check_text(fields["lane"], "lane") if fields.get("lane") else None
    callback = fields.get("callback_url") or None
    if callback is not None:
        if len(callback) > MAX_CALLBACK_URL:
            raise InvalidRequest(
                f"callback_url is longer than {MAX_CALLBACK_URL} characters", code="invalid_callback_url"
            )
        callback = check_callback_url(
            check_text(callback, "callback_url"), allow_private=services.settings.allow_private_sources
        )
    return pipeline, spec.validate_options(options), lane, callback


async def receive_upload(request: Request, services: Services, owner_id: str) -> Upload:
    """POST /uploads: the multipart `file` part, stored as an upload."""
    if not _is_multipart(request):
        raise InvalidRequest("send the file as multipart/form-data", code="unsupported_content_type")
    upload, _ = await _receive_form(request, services, owner_id, lambda fields: None)
    return upload


async def receive_form(
    request: Request, services: Services, owner_id: str, validate: Callable[[FormFields], T]
) -> tuple[Upload, T]:
    """A multipart form with a `file` part (other front doors' too: the OpenAI-compatible routes):
    the file stored as an upload, and what `validate` makes of the text fields. `validate` is called
    with the fields sent before the file (a refusal stores nothing) and again with all of them."""
    if not _is_multipart(request):
        raise InvalidRequest("send the file as multipart/form-data", code="unsupported_content_type")
    return await _receive_form(request, services, owner_id, validate)


async def _receive_form(
    request: Request, services: Services, owner_id: str, validate: Callable[[FormFields], T]
) -> tuple[Upload, T]:
    """Stream the file part into storage; keep it only if the whole form is read and acceptable.

    The body is parsed in the event loop; only whole chunks of the file are written from a worker
    thread, so a client that trickles its body holds no thread (see api/multipart.py)."""
    limits = FormLimits(max_file_bytes=services.settings.upload_max_bytes)
    check_length(request, limits.max_body_bytes)
    reader = MultipartReader(request.headers["content-type"], limits)
    body = BodyStream(request.stream(), services.settings.body_idle_timeout_seconds)
    slots: UploadSlots = request.app.state.upload_slots
    with slots.hold(owner_id):
        await reader.read_until_file(body)
        validate(reader.fields)  # fields sent before the file: refuse before storing anything
        if reader.file is None:
            raise InvalidRequest("the multipart body needs a `file` part", code="missing_file")
        room = await run_in_threadpool(services.store.stored.room, owner_id, services.settings.tier_limits())
        upload_id = uuid.uuid4()
        name = safe_filename(reader.file.filename or "upload", default="upload")
        key = upload_key(upload_id, name)
        writer = await run_in_threadpool(services.storage.writer, key)
        try:
            size = 0
            async for chunk in reader.file_chunks(body):
                size += len(chunk)
                if room is not None and not fits(room[1], room[0], size):  # refused as it streams
                    raise StorageQuotaExceeded(describe_room(room[1], room[0]))
                await run_in_threadpool(writer.write, chunk)
            if size == 0:
                raise InvalidRequest("the uploaded file is empty", code="empty_upload")
            await reader.read_to_end(body)
            checked = validate(reader.fields)
            stored = await run_in_threadpool(writer.commit)
        except BaseException:
            with anyio.CancelScope(shield=True):  # also when the request is being cancelled
                await run_in_threadpool(writer.abort)
            raise
    try:
        upload = await run_in_threadpool(
            services.store.uploads.create_upload,
            upload_id=upload_id,
            owner_id=owner_id,
            filename=name,
            content_type=reader.file.content_type,
            size=stored.size,
            sha256=stored.sha256 or "",
            key=key,
            limits=services.settings.tier_limits(),  # exact: another upload may have taken the room
        )
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(services.storage.delete, key)
        raise
    return upload, checked


def describe(exc: ValidationError, limit: int = 5) -> str:
    """A bounded, readable summary of a validation error (the first few problems)."""
    errors = exc.errors()
    parts = [
        f"{'.'.join(str(p)[:40] for p in err['loc']) or 'body'}: {err['msg'][:200]}" for err in errors[:limit]
    ]
    if len(errors) > limit:
        parts.append(f"and {len(errors) - limit} more")
    return "; ".join(parts)


# -- writing the job ----------------------------------------------------------------------------


async def accept_submit(
    request: Request, services: Services, owner: Caller, idempotency_key: str | None
) -> tuple[Job, bool]:
    """Read a submit and hand it to the application layer; (job, created)."""
    submit_request = await read_submit(request, services, owner.user.id)
    return await run_in_threadpool(submit, services, owner, submit_request, idempotency_key=idempotency_key)


__all__ = [
    "MAX_JSON_BYTES",
    "accept_submit",
    "check_length",
    "describe",
    "read_json_body",
    "read_submit",
    "receive_form",
    "receive_upload",
]
