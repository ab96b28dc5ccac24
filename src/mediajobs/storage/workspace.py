"""Local scratch folders where a stage's tools (ffmpeg, Whisper, a download) write while it runs.

Not storage: nothing here outlives the attempt. What a stage keeps, it hands to storage with
`put_file` before it returns; the runner empties the folder when the attempt ends, however it ends.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from pathlib import Path

from .keys import safe_filename


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def folder(self, job_id: uuid.UUID, stage: str, attempt: int = 1) -> Path:
        """The folder of one claim: each attempt has its own, so an attempt handed back by a stopping
        worker (drain.py), still writing its last files, never shares one with the next attempt,
        even on the same host."""
        return self.root / str(job_id) / safe_filename(stage) / f"attempt-{attempt}"

    def fresh(self, job_id: uuid.UUID, stage: str, attempt: int = 1) -> Path:
        """An empty folder for one attempt (whatever an earlier run of this very attempt left is
        removed; a killed earlier attempt's folder goes with the daily housekeeping)."""
        folder = self.folder(job_id, stage, attempt)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def clear(self, job_id: uuid.UUID, stage: str, attempt: int = 1) -> None:
        folder = self.folder(job_id, stage, attempt)
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            folder.parent.rmdir()  # the stage's folder, once its last attempt's is gone
            folder.parent.parent.rmdir()  # the job's folder, once its last stage folder is gone


__all__ = ["Workspace"]
