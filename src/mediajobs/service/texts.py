"""A submit's `text`, stored as an upload (`text.txt`) that the job reads like any other input."""

from __future__ import annotations

import hashlib
import uuid

from mediajobs.domain import Upload
from mediajobs.errors import InvalidRequest
from mediajobs.storage import upload_key
from mediajobs.wiring import Services


def store_text(services: Services, owner_id: str, text: str) -> Upload:
    """A submit's `text` field, stored as an upload (`text.txt`) that the job reads like any other."""
    if not text.strip():
        raise InvalidRequest("`text` is empty", code="empty_text")
    data = text.encode("utf-8")
    upload_id = uuid.uuid4()
    key = upload_key(upload_id, "text.txt")
    stored = services.storage.write(key, [data])
    try:
        return services.store.uploads.create_upload(
            upload_id=upload_id,
            owner_id=owner_id,
            filename="text.txt",
            content_type="text/plain; charset=utf-8",
            size=stored.size,
            sha256=stored.sha256 or hashlib.sha256(data).hexdigest(),
            key=key,
            limits=services.settings.tier_limits(),  # 413 `storage_quota_exceeded` past the tier's
        )
    except BaseException:
        services.storage.delete(key)
        raise


__all__ = ["store_text"]
