"""Logging as a hook: one line per stage start and end, and per finished job."""

from __future__ import annotations

import logging

from .base import Hooks, JobFinished, StageFinished, StageInfo

log = logging.getLogger("mediajobs.runner")


class LoggingHooks(Hooks):
    def stage_started(self, stage: StageInfo) -> None:
        log.info("running %s/%s attempt %d on %s", stage.job_id, stage.stage, stage.attempt, stage.worker)

    def stage_finished(self, finished: StageFinished) -> None:
        stage = finished.stage
        detail = f": {finished.error.code}: {finished.error.message}" if finished.error else ""
        level = logging.WARNING if finished.outcome == "lease_lost" else logging.INFO
        log.log(
            level,
            "stage %s/%s %s after %.1f s%s",
            stage.job_id,
            stage.stage,
            finished.outcome,
            finished.seconds,
            detail,
        )

    def job_finished(self, job: JobFinished) -> None:
        detail = f" ({job.error.code})" if job.error else ""
        log.info("job %s %s%s", job.job_id, job.status, detail)


__all__ = ["LoggingHooks"]
