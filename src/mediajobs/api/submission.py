"""Accepting work: validate a job request, store uploads, write the job (and its outbox) in one go."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from mediajobs.domain import Job, Upload, get_pipeline
from mediajobs.errors import InvalidRequest, NotFound, PayloadTooLarge
from mediajobs.netguard import refuse_private_literal
from mediajobs.services import Services
from mediajobs.storage import LocalStorage, safe_filename
from mediajobs.store import JobStore

_CHUNK = 1024 * 1024


def request_hash(pipeline: str, source: str, options: Mapping[str, Any]) -> str:
    """Fingerprint of a submit body, to tell an idempotent replay from a reused key."""
    canonical = json.dumps({"pipeline": pipeline, "source": source, "options": options}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit_job(
    store: JobStore,
    *,
    owner_id: str,
    pipeline: str,
    source: str,
    options: Mapping[str, Any] | None,
    idempotency_key: str | None = None,
    body_hash: str | None = None,
    allow_private_sources: bool = False,
) -> tuple[Job, bool]:
    spec = get_pipeline(pipeline)
    clean_source = spec.validate_source(source)
    if not allow_private_sources and urlsplit(clean_source).scheme in ("http", "https"):
        refuse_private_literal(urlsplit(clean_source).hostname)
    clean_options = spec.validate_options(options)
    if urlsplit(clean_source).scheme == "upload":
        upload_id = _upload_id(clean_source)
        try:
            store.get_upload(upload_id, owner_id)
        except NotFound:
            raise InvalidRequest(f"no upload with id {upload_id}", code="upload_not_found") from None
        clean_source = f"upload://{upload_id}"
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
        request_hash=body_hash or request_hash(spec.name, clean_source, clean_options),
    )


def _upload_id(source: str) -> uuid.UUID:
    try:
        return uuid.UUID(urlsplit(source).netloc)
    except ValueError:
        raise InvalidRequest(f"malformed upload id in {source[:200]!r}", code="invalid_source") from None


def save_upload(
    store: JobStore,
    storage: LocalStorage,
    *,
    owner_id: str,
    stream: BinaryIO,
    filename: str | None,
    content_type: str | None,
    max_bytes: int,
) -> Upload:
    """Copy an uploaded stream into storage (hashing it, bounding its size), then record it."""
    upload_id = uuid.uuid4()
    folder = storage.upload_dir(upload_id)
    name = safe_filename(filename or "upload", default="upload")
    target = folder / name
    tmp = folder / f".{name}.part"
    digest = hashlib.sha256()
    size = 0
    try:
        with open(tmp, "wb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"upload exceeds the limit of {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise InvalidRequest("the uploaded file is empty", code="empty_upload")
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        _remove_dir(folder)
        raise
    return store.create_upload(
        upload_id=upload_id,
        owner_id=owner_id,
        filename=name,
        content_type=content_type,
        size=size,
        sha256=digest.hexdigest(),
        path=storage.relative(target),
    )


def _remove_dir(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink(missing_ok=True)
    folder.rmdir()


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
