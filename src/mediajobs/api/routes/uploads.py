"""Uploads: send a media file once, then submit jobs with `source: upload://<id>`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from mediajobs import service
from mediajobs.api.deps import CurrentUser, ServicesDep, StoreDep
from mediajobs.api.schemas import BODY_ERRORS, ErrorBody, UploadPublic, upload_public
from mediajobs.api.submission import receive_upload
from mediajobs.errors import NotFound

router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"])

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


_TOO_LARGE = (
    "Over the upload size limit (`payload_too_large`), or past your storage quota "
    "(`storage_quota_exceeded`: delete uploads or jobs to make room)"
)


@router.post(
    "",
    status_code=201,
    response_model=UploadPublic,
    responses={**BODY_ERRORS, 413: {"model": ErrorBody, "description": _TOO_LARGE}},
    openapi_extra=_UPLOAD_BODY,
)
async def create_upload(
    request: Request, response: Response, services: ServicesDep, owner: CurrentUser
) -> UploadPublic:
    """Store a media file for later jobs (the body is read as it streams, and cut at the size limit
    or where it would pass your storage quota)."""
    response.headers.update(request.app.state.gate.check(owner, services.store.db.clock()))
    upload = await receive_upload(request, services, owner.user.id)
    return upload_public(upload)


@router.get(
    "/{upload_id}",
    response_model=UploadPublic,
    responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)
def get_upload(upload_id: str, store: StoreDep, owner: CurrentUser) -> UploadPublic:
    """An upload's name, size and hash (yours only: another user's id is not found)."""
    return upload_public(store.uploads.get_upload(_parse(upload_id), owner.scope))


@router.delete(
    "/{upload_id}",
    status_code=204,
    response_class=Response,
    responses={
        401: {"model": ErrorBody},
        404: {"model": ErrorBody},
        409: {"model": ErrorBody, "description": "A queued or running job still reads it (`upload_in_use`)"},
    },
)
def delete_upload(upload_id: str, services: ServicesDep, owner: CurrentUser) -> Response:
    """Delete your upload, its row and file (its bytes no longer count against your storage quota);
    409 while a queued or running job reads it."""
    service.delete_upload(services, owner, _parse(upload_id))
    return Response(status_code=204)


def _parse(upload_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(upload_id)
    except ValueError:
        raise NotFound(f"no upload with id {upload_id[:100]!r}") from None
