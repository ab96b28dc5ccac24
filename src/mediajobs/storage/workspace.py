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

    def folder(self, job_id: uuid.UUID, stage: str) -> Path:
        return self.root / str(job_id) / safe_filename(stage)

    def fresh(self, job_id: uuid.UUID, stage: str) -> Path:
        """An empty folder for one attempt (whatever a killed earlier attempt left is removed)."""
        folder = self.folder(job_id, stage)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def clear(self, job_id: uuid.UUID, stage: str) -> None:
        folder = self.folder(job_id, stage)
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            folder.parent.rmdir()  # the job's folder, once its last stage folder is gone


__all__ = ["Workspace"]
