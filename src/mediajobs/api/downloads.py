"""Sending a stored object to an HTTP client, whatever the storage backend."""

from __future__ import annotations

from fastapi.responses import RedirectResponse, Response, StreamingResponse

from mediajobs.storage import Storage


def send_object(storage: Storage, key: str, *, media_type: str, filename: str | None = None) -> Response:
    """Stream the object (local and in-memory backends), or redirect to the URL a remote backend
    gives (a presigned S3 URL)."""
    download = storage.download(key, content_type=media_type, filename=filename)
    if download.url is not None:
        return RedirectResponse(download.url, status_code=307)
    assert download.chunks is not None
    headers = {"Content-Length": str(download.size)}
    if filename is not None:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return StreamingResponse(download.chunks(), media_type=media_type, headers=headers)


__all__ = ["send_object"]
