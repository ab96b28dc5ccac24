"""Logging as a hook: a line when a job is submitted, when each stage attempt starts and ends, and
when a job ends, each with its structured fields (job, stage, attempt, worker, user, queue, pipeline,
lane, duration, outcome: see logconfig.py). While a stage runs, its fields are bound to every other
line its thread logs."""

from __future__ import annotations

import logging
from typing import Any

from mediajobs.logconfig import bind_context, clear_context

from .base import Hooks, JobFinished, JobSubmitted, StageFinished, StageInfo

log = logging.getLogger("mediajobs.runner")
jobs_log = logging.getLogger("mediajobs.jobs")


def stage_fields(stage: StageInfo) -> dict[str, Any]:
    return {
        "job": str(stage.job_id),
        "stage": stage.stage,
        "attempt": stage.attempt,
        "worker": stage.worker,
        "user": stage.owner_id,
        "queue": stage.queue,
        "pipeline": stage.pipeline,
        "lane": stage.lane,
    }


class LoggingHooks(Hooks):
    def job_submitted(self, job: JobSubmitted) -> None:
        jobs_log.info(
            "job %s submitted: %s, %s lane",
            job.job_id,
            job.pipeline,
            job.lane,
            extra={"job": str(job.job_id), "user": job.owner_id, "pipeline": job.pipeline, "lane": job.lane},
        )

    def stage_started(self, stage: StageInfo) -> None:
        fields = stage_fields(stage)
        bind_context(**fields)
        log.info(
            "stage %s/%s started: attempt %d on %s", stage.job_id, stage.stage, stage.attempt, stage.worker
        )

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
            extra={
                **stage_fields(stage),
                "duration": round(finished.seconds, 3),
                "outcome": finished.outcome,
            },
        )
        clear_context()

    def job_finished(self, job: JobFinished) -> None:
        detail = f" ({job.error.code})" if job.error else ""
        jobs_log.info(
            "job %s %s%s",
            job.job_id,
            job.status,
            detail,
            extra={
                "job": str(job.job_id),
                "user": job.owner_id,
                "pipeline": job.pipeline,
                "lane": job.lane,
                "duration": None if job.seconds is None else round(job.seconds, 3),
                "outcome": job.status,
            },
        )


__all__ = ["LoggingHooks"]
