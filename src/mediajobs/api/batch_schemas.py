"""The request and response bodies of the batch routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mediajobs.domain import MAX_BATCH_ITEMS
from mediajobs.public import BatchPublic

from .schemas import CALLBACK_URL, MAX_TEXT_CHARS


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
    callback_url: str | None = Field(default=None, **CALLBACK_URL)


class BatchList(BaseModel):
    batches: list[BatchPublic]


__all__ = ["BatchCreate", "BatchItemCreate", "BatchList"]
