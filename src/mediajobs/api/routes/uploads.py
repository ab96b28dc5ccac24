"""Uploads: send a media file once, then submit jobs with `source: upload://<id>`."""

from __future__ import annotations

from fastapi import APIRouter, UploadFile

from mediajobs.api.deps import CurrentUser, ServicesDep
from mediajobs.api.schemas import ErrorBody, UploadPublic, upload_public
from mediajobs.api.submission import save_upload_file

router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"])


@router.post("", status_code=201, response_model=UploadPublic, responses={413: {"model": ErrorBody}})
async def create_upload(file: UploadFile, services: ServicesDep, owner: CurrentUser) -> UploadPublic:
    """Store a media file for later jobs."""
    upload = await save_upload_file(services, owner, file)
    return upload_public(upload)
