"""Where media and artifacts live. Local disk now; the interface leaves room for an S3-compatible store.

Layout under the storage root:
    uploads/<upload id>/<file name>        files received through the API
    jobs/<job id>/work/<stage>/...         a stage's scratch files (its checkpoint may point here)
    jobs/<job id>/artifacts/<name>         results served by the API
Paths kept in the database are relative to the root, so the root can move.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Protocol

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str, default: str = "file") -> str:
    """A file name that cannot escape its folder."""
    base = os.path.basename(name.replace("\\", "/")).strip(". ")
    cleaned = _SAFE_NAME.sub("_", base)[:200]
    return cleaned or default


class Storage(Protocol):
    """Files of jobs and uploads, addressed by paths relative to the storage root."""

    def resolve(self, relpath: str) -> Path: ...

    def relative(self, path: Path) -> str: ...

    def upload_dir(self, upload_id: uuid.UUID) -> Path: ...

    def work_dir(self, job_id: uuid.UUID, stage: str) -> Path: ...

    def artifact_path(self, job_id: uuid.UUID, name: str, *, version: int | None = None) -> Path: ...

    def put_artifact(
        self, job_id: uuid.UUID, name: str, source: Path, *, version: int | None = None
    ) -> str: ...


class LocalStorage:
    """Storage on a local (or shared network) file system."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def resolve(self, relpath: str) -> Path:
        path = (self.root / relpath).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"path {relpath!r} escapes the storage root")
        return path

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()

    def upload_dir(self, upload_id: uuid.UUID) -> Path:
        path = self.root / "uploads" / str(upload_id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def job_dir(self, job_id: uuid.UUID) -> Path:
        return self.root / "jobs" / str(job_id)

    def work_dir(self, job_id: uuid.UUID, stage: str) -> Path:
        path = self.job_dir(job_id) / "work" / safe_filename(stage)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def artifact_path(self, job_id: uuid.UUID, name: str, *, version: int | None = None) -> Path:
        folder = self.job_dir(job_id) / "artifacts"
        if version is not None:
            folder = folder / f"v{version}"
        return folder / safe_filename(name)

    def put_artifact(self, job_id: uuid.UUID, name: str, source: Path, *, version: int | None = None) -> str:
        """Move (or copy) a finished file into place atomically; returns its relative path.

        `version` (the runner's fencing token) gives each attempt its own folder, so a runner that lost
        its lease can never overwrite the files its successor committed.
        """
        target = self.artifact_path(job_id, name, version=version)
        atomic_move(source, target)
        return self.relative(target)


def atomic_move(source: Path, target: Path) -> None:
    """Put `source` at `target` so that readers see either the old file or the whole new one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(source, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    if source.resolve() != target.resolve():
        source.unlink(missing_ok=True)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Write a whole file atomically (temp file in the same folder, fsync, rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, target)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
