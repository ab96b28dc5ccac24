"""The periodic tasks beat runs, each at most once per period, each logging what it did.

    rollover    monthly, 1st 00:00 UTC   open the new usage period (old rows stay as the record)
    usage       hourly, at :00           recompute this period's usage from the job table
    cleanup     daily, 02:00 UTC         remove the media and artifacts of jobs finished more than
                                         the retention ago (rows stay, status `expired`), uploads no
                                         job uses after a grace period, and stale scratch folders
(the lease reaper and outbox relay run far more often: `queue/maintenance.py`)

"At most once": a task's run for a period is claimed with a row whose key is (task, period), so a
second beat process started by mistake, or a redelivered message, does nothing. Time comes from the
store's clock, so tests move it instead of waiting.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mediajobs.settings import Settings
from mediajobs.storage import Storage, Workspace, job_prefix
from mediajobs.store import JobStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class Task:
    name: str
    period: Callable[[datetime], str]  # the period a moment belongs to: the task runs once per period


TASKS: dict[str, Task] = {
    "rollover": Task(name="rollover", period=lambda now: f"{now:%Y-%m}"),
    "usage": Task(name="usage", period=lambda now: f"{now:%Y-%m-%dT%H}"),
    "cleanup": Task(name="cleanup", period=lambda now: f"{now:%Y-%m-%d}"),
}


class Housekeeping:
    def __init__(self, store: JobStore, storage: Storage, workspace: Workspace, settings: Settings) -> None:
        self.store = store
        self.storage = storage
        self.workspace = workspace
        self.settings = settings

    def run(self, name: str) -> dict[str, Any] | None:
        """Run the task for the current period, unless it already ran; returns what it did (None:
        skipped, someone ran it)."""
        task = TASKS[name]
        now = self.store.db.clock()
        period = task.period(now)
        if not self.store.periodic.claim_run(name, period):
            log.info("periodic %s for %s already ran; skipping", name, period)
            return None
        started = time.monotonic()
        result: dict[str, Any] = getattr(self, f"_{name}")(now)
        result["seconds"] = round(time.monotonic() - started, 3)
        self.store.periodic.finish_run(name, period, result)
        log.info("periodic %s for %s: %s", name, period, result)
        return result

    def _rollover(self, now: datetime) -> dict[str, Any]:
        return dict(self.store.periodic.roll_over(now))

    def _usage(self, now: datetime) -> dict[str, Any]:
        return dict(self.store.periodic.reconcile_usage(now))

    def _cleanup(self, now: datetime) -> dict[str, Any]:
        periodic = self.store.periodic
        expired = removed_objects = 0
        for job_id in periodic.finished_before(now - timedelta(days=self.settings.retention_days)):
            removed_objects += self.storage.delete_prefix(job_prefix(job_id))
            if periodic.expire(job_id):
                expired += 1
        orphans = 0
        for orphan in periodic.orphan_uploads(
            now - timedelta(seconds=self.settings.orphan_upload_grace_seconds)
        ):
            if periodic.forget_upload(orphan.upload_id):  # the row first: a job may name it meanwhile
                self.storage.delete(orphan.key)
                orphans += 1
        return {
            "jobs_expired": expired,
            "objects_removed": removed_objects,
            "orphan_uploads_removed": orphans,
            "scratch_folders_removed": self._stale_scratch(now),
        }

    def _stale_scratch(self, now: datetime) -> int:
        """Scratch folders of jobs with nothing running, older than a day (a killed worker's)."""
        root = self.workspace.root
        if not root.is_dir():
            return 0
        running = self.store.periodic.running_jobs()
        cutoff = (now - timedelta(days=1)).timestamp()
        removed = 0
        for folder in root.iterdir():
            try:
                job_id = uuid.UUID(folder.name)
            except ValueError:
                continue
            if job_id in running or folder.stat().st_mtime > cutoff:
                continue
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        return removed


__all__ = ["TASKS", "Housekeeping", "Task"]
