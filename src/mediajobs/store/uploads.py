"""Uploads: files received through the API, which jobs name as `upload://<id>`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy import and_, delete, exists, insert, select

from mediajobs.domain import Upload
from mediajobs.domain.tenancy import Tier, TierLimits
from mediajobs.errors import NotFound

from .mapping import upload_from_row
from .stored import check_upload
from .tables import JobRow, UploadRow
from .tx import Database


class Uploads:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create_upload(
        self,
        *,
        upload_id: uuid.UUID,
        owner_id: str,
        filename: str,
        content_type: str | None,
        size: int,
        sha256: str,
        key: str,
        limits: Mapping[Tier, TierLimits] | None = None,
    ) -> Upload:
        """Record a stored file. With `limits`, StorageQuotaExceeded (413) when it would take the
        owner past their tier's stored bytes (checked exactly, in this transaction)."""
        with self._db.tx() as tx:
            if limits is not None:
                check_upload(tx, owner_id, size, limits)
            tx.conn.execute(
                insert(UploadRow).values(
                    id=upload_id,
                    owner_id=owner_id,
                    filename=filename,
                    content_type=content_type,
                    size=size,
                    sha256=sha256,
                    storage_key=key,
                    created_at=tx.now,
                )
            )
        return Upload(
            id=upload_id,
            owner_id=owner_id,
            filename=filename,
            content_type=content_type,
            size=size,
            sha256=sha256,
            key=key,
            created_at=tx.now,
        )

    def get_upload(self, upload_id: uuid.UUID, owner_id: str | None = None) -> Upload:
        query = select(UploadRow.__table__).where(UploadRow.id == upload_id)
        if owner_id is not None:
            query = query.where(UploadRow.owner_id == owner_id)
        with self._db.read() as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFound(f"no upload with id {upload_id}")
        return upload_from_row(row)

    def delete_unused_upload(self, upload_id: uuid.UUID) -> Upload | None:
        """Remove the upload's row if no job refers to it; the removed upload (its storage key is
        the caller's to delete), or None when it is in use or gone."""
        return next(iter(self._delete_unused(UploadRow.id == upload_id)), None)

    def _delete_unused(self, which: object) -> list[Upload]:
        # The NOT EXISTS is checked again in the DELETE itself: a job that names the upload meanwhile wins.
        unused = and_(which, ~exists().where(JobRow.upload_id == UploadRow.id))  # type: ignore[arg-type]
        with self._db.tx() as tx:
            rows = tx.conn.execute(delete(UploadRow).where(unused).returning(*UploadRow.__table__.c)).all()
        return [upload_from_row(r) for r in rows]


__all__ = ["Uploads"]
