"""The request and response bodies of the batch routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mediajobs.domain import MAX_BATCH_ITEMS, Batch

from .schemas import MAX_TEXT_CHARS, Links, job_links


class BatchItemCreate(BaseModel):
    # Exactly one of `source` and `text`, as in a single submit (JobCreate), and the schema says so.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["source"], "properties": {"source": {"type": "string"}}},
                {"required": ["text"], "properties": {"text": {"type": "string"}}},
            ]
        },
    )

    source: str | None = Field(default=None, max_length=4096, description="As a job's `source`; or `text`.")
    text: str | None = Field(default=None, max_length=MAX_TEXT_CHARS, description="A text pipeline's input.")
    pipeline: str | None = Field(default=None, max_length=64, description="Default: the batch's `pipeline`.")
    options: dict[str, Any] = Field(default_factory=dict, description="Over the batch's `options`.")
    name: str | None = Field(
        default=None, max_length=200, description="What the batch calls it (its files' folder in the zip)."
    )


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[BatchItemCreate] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)
    pipeline: str = Field(default="transcribe", max_length=64, description="The items' default pipeline.")
    options: dict[str, Any] = Field(default_factory=dict, description="The items' default options.")
    name: str | None = Field(default=None, max_length=200)


class BatchItemPublic(BaseModel):
    index: int
    name: str | None
    id: uuid.UUID = Field(description="The item's job.")
    pipeline: str
    status: str
    progress: float
    error: dict[str, str] | None = None
    links: Links


class BatchPublic(BaseModel):
    id: uuid.UUID
    name: str | None
    status: str = Field(
        description="`running`, or how it ended: `succeeded` (every item), `completed_with_failures` "
        "(all ended, some failed or were cancelled), `failed` (none succeeded), `cancelled`."
    )
    items: int
    counts: dict[str, int] = Field(description="Items by job status.")
    progress: float = Field(description="Ended items, percent.")
    created_at: datetime
    finished_at: datetime | None
    links: dict[str, str]
    item_page: list[BatchItemPublic] | None = Field(
        default=None, description="Items in order (GET /batches/{id}: a page; `next_after` for the next)."
    )
    next_after: int | None = Field(default=None, description="Pass as `after` for the next page of items.")


class BatchList(BaseModel):
    batches: list[BatchPublic]


def batch_links(batch_id: uuid.UUID) -> dict[str, str]:
    base = f"/api/v1/batches/{batch_id}"
    return {
        "self": base,
        "events": f"{base}/events",
        "cancel": f"{base}/cancel",
        "retry": f"{base}/retry",
        "artifacts": f"{base}/artifacts",
    }


def batch_public(batch: Batch, items: list[Any] | None = None, next_after: int | None = None) -> BatchPublic:
    return BatchPublic(
        id=batch.id,
        name=batch.name,
        status=batch.status.value,
        items=batch.items,
        counts=dict(batch.counts),
        progress=batch.progress,
        created_at=batch.created_at,
        finished_at=batch.finished_at,
        links=batch_links(batch.id),
        item_page=None
        if items is None
        else [
            BatchItemPublic(
                index=row.batch_index,
                name=row.item_name,
                id=row.id,
                pipeline=row.pipeline,
                status=row.status,
                progress=row.progress,
                error=None
                if row.error_code is None
                else {"code": row.error_code, "message": row.error_message or ""},
                links=job_links(row.id),
            )
            for row in items
        ],
        next_after=next_after,
    )


__all__ = ["BatchCreate", "BatchItemCreate", "BatchList", "BatchPublic", "batch_public"]
