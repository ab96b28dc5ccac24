"""Where things go in storage: every key mediajobs writes is made here."""

from __future__ import annotations

import os
import re
import uuid

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str, default: str = "file") -> str:
    """A name that is one safe key segment (and cannot escape a folder)."""
    base = os.path.basename(name.replace("\\", "/")).strip(". ")
    cleaned = _SAFE_NAME.sub("_", base)[:200].strip(".")
    return cleaned or default


def upload_prefix(upload_id: uuid.UUID) -> str:
    return f"uploads/{upload_id}/"


def upload_key(upload_id: uuid.UUID, filename: str) -> str:
    return f"{upload_prefix(upload_id)}{safe_filename(filename, default='upload')}"


def job_prefix(job_id: uuid.UUID) -> str:
    return f"jobs/{job_id}/"


def stage_key(job_id: uuid.UUID, stage: str, fence: int, name: str) -> str:
    """A file a stage checkpoints. The fencing token keeps a runner that lost its lease from
    replacing the file its successor committed."""
    return f"{job_prefix(job_id)}stages/{safe_filename(stage)}/f{fence}/{safe_filename(name)}"


def artifact_key(job_id: uuid.UUID, name: str, *, version: int) -> str:
    return f"{job_prefix(job_id)}artifacts/v{version}/{safe_filename(name)}"


__all__ = ["artifact_key", "job_prefix", "safe_filename", "stage_key", "upload_key", "upload_prefix"]
