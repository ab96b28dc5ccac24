"""Uploads: send a media file once, then submit jobs with `source: upload://<id>`."""

from __future__ import annotations

from fastapi import APIRouter, UploadFile
from fastapi.concurrency import run_in_threadpool

from mediajobs.api.deps import CurrentUser, ServicesDep
from mediajobs.api.schemas import ErrorBody, UploadPublic, upload_public
from mediajobs.api.submission import save_upload

router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"])


@router.post("", status_code=201, response_model=UploadPublic, responses={413: {"model": ErrorBody}})
async def create_upload(file: UploadFile, services: ServicesDep, owner: CurrentUser) -> UploadPublic:
    """Store a media file for later jobs."""
    upload = await run_in_threadpool(
        save_upload,
        services.store,
        services.storage,
        owner_id=owner,
        stream=file.file,
        filename=file.filename,
        content_type=file.content_type,
        max_bytes=services.settings.upload_max_bytes,
    )
    return upload_public(upload)
