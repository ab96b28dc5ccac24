"""Uploads: send a media file once, then submit jobs with `source: upload://<id>`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, UploadFile

from mediajobs.api.deps import CurrentUser, ServicesDep, StoreDep
from mediajobs.api.schemas import ErrorBody, UploadPublic, upload_public
from mediajobs.api.submission import save_upload_file
from mediajobs.errors import NotFound

router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"])


@router.post(
    "",
    status_code=201,
    response_model=UploadPublic,
    responses={401: {"model": ErrorBody}, 413: {"model": ErrorBody}, 429: {"model": ErrorBody}},
)
async def create_upload(
    request: Request, response: Response, file: UploadFile, services: ServicesDep, owner: CurrentUser
) -> UploadPublic:
    """Store a media file for later jobs."""
    response.headers.update(request.app.state.gate.check(owner, services.store.db.clock()))
    upload = await save_upload_file(services, owner.user.id, file)
    return upload_public(upload)


@router.get(
    "/{upload_id}",
    response_model=UploadPublic,
    responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)
def get_upload(upload_id: str, store: StoreDep, owner: CurrentUser) -> UploadPublic:
    """An upload's name, size and hash (yours only: another user's id is not found)."""
    try:
        parsed = uuid.UUID(upload_id)
    except ValueError:
        raise NotFound(f"no upload with id {upload_id[:100]!r}") from None
    return upload_public(store.get_upload(parsed, owner.scope))
