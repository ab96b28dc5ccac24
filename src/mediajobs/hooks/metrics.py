"""Prometheus metrics as a hook: counters and histograms of what happens, counted in the process where
it happens (the API for submits and cancels, a worker's pool process for stages).

Metrics of state (queue lengths, jobs by status, oldest waiting age) are not kept here: they are read
from the broker and the database when scraped (`mediajobs.monitoring.state`), so no process's death
loses them. Labels are bounded: queues, pipelines, stage names (a fan-out child `chunk[3]` counts as
`chunk`), lanes, outcomes; never a job or user id.

The metrics are made once per process (`event_metrics`), on first use: in a worker with a metrics
port, after `mediajobs.monitoring.exposition.use_multiprocess` has pointed them at the files its pool
processes share (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .base import Hooks, JobFinished, JobSubmitted, LostLease, MessagePublished, StageFinished, StageInfo

DURATION_BUCKETS = (
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0,
    14400.0,
)  # fmt: skip
"""0.1 s to 4 h: a multi-minute media stage lands in a bucket of its own, not in +Inf."""

WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 14400.0)


@dataclass(frozen=True, kw_only=True, slots=True)
class EventMetrics:
    """Every event metric of one process, on a registry of its own (read directly when the process
    exposes only itself; in multiprocess mode the files are read instead)."""

    registry: CollectorRegistry
    tasks_submitted: Counter  # {queue, task_name}: stage messages the broker took
    stages_followed: Counter  # {queue, task_name}: stages run by their predecessor's worker, no message
    tasks_completed: Counter  # {queue, status}: stage attempts that ended, by outcome
    task_duration: Histogram  # {task_name}: how long an attempt ran
    stages_running: Gauge  # {queue}: attempts running in this process now
    stage_retries: Counter  # {task_name}
    leases_lost: Counter  # {noticed_by}: runner | reaper
    jobs_submitted: Counter  # {pipeline, lane}
    jobs_finished: Counter  # {pipeline, lane, status}
    job_duration: Histogram  # {pipeline}: submit to end
    media_processed: Counter  # {pipeline}: media seconds of succeeded jobs
    admission_wait: Histogram  # {lane}: submit to the first stage's start
    hook_deliveries: Counter  # {outcome}: durable hooks' delivery attempts (webhooks)


@functools.cache
def event_metrics() -> EventMetrics:
    """This process's event metrics (made on first call)."""
    registry = CollectorRegistry(auto_describe=True)
    return EventMetrics(
        registry=registry,
        tasks_submitted=Counter(
            "mediajobs_tasks_submitted",
            "Stage messages the broker took (re-sends included).",
            ["queue", "task_name"],
            registry=registry,
        ),
        stages_followed=Counter(
            "mediajobs_stages_followed",
            "Stages a worker ran right after their predecessor, claimed without a broker message (sticky).",
            ["queue", "task_name"],
            registry=registry,
        ),
        tasks_completed=Counter(
            "mediajobs_tasks_completed",
            "Stage attempts that ended, by outcome (succeeded, retry, failed, cancelled, lease_lost).",
            ["queue", "status"],
            registry=registry,
        ),
        task_duration=Histogram(
            "mediajobs_task_duration_seconds",
            "How long a stage attempt ran.",
            ["task_name"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        ),
        stages_running=Gauge(
            "mediajobs_worker_stages_running",
            "Stage attempts running in this worker now.",
            ["queue"],
            registry=registry,
            multiprocess_mode="livesum",
        ),
        stage_retries=Counter(
            "mediajobs_stage_retries",
            "Failed stage attempts that will run again.",
            ["task_name"],
            registry=registry,
        ),
        leases_lost=Counter(
            "mediajobs_leases_lost",
            "Stage leases lost: the runner found another had taken over, or the reaper found it expired.",
            ["noticed_by"],
            registry=registry,
        ),
        jobs_submitted=Counter(
            "mediajobs_jobs_submitted",
            "Jobs written (re-runs included).",
            ["pipeline", "lane"],
            registry=registry,
        ),
        jobs_finished=Counter(
            "mediajobs_jobs_finished",
            "Jobs that reached a final status.",
            ["pipeline", "lane", "status"],
            registry=registry,
        ),
        job_duration=Histogram(
            "mediajobs_job_duration_seconds",
            "From a job's submit to its end.",
            ["pipeline"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        ),
        media_processed=Counter(
            "mediajobs_media_processed_seconds",
            "Seconds of media in jobs that succeeded.",
            ["pipeline"],
            registry=registry,
        ),
        admission_wait=Histogram(
            "mediajobs_admission_wait_seconds",
            "From a job's submit to its first stage's start (held by admission, then in its lane's queue).",
            ["lane"],
            buckets=WAIT_BUCKETS,
            registry=registry,
        ),
        hook_deliveries=Counter(
            "mediajobs_hook_deliveries",
            "Durable hooks' (webhooks') delivery attempts, by outcome (delivered, retry, failed, skipped).",
            ["outcome"],
            registry=registry,
        ),
    )


def task_name(pipeline: str, stage: str) -> str:
    """`<pipeline>.<stage>`, a fan-out child by its family (`transcribe.chunk`, not `chunk[3]`)."""
    return f"{pipeline}.{stage.split('[', 1)[0]}"


class MetricsHooks(Hooks):
    """Counts the events of the process it runs in (hooks/base.py)."""

    def __init__(self) -> None:
        self.metrics = event_metrics()

    def job_submitted(self, job: JobSubmitted) -> None:
        self.metrics.jobs_submitted.labels(job.pipeline, job.lane).inc()

    def message_published(self, message: MessagePublished) -> None:
        self.metrics.tasks_submitted.labels(message.queue, task_name(message.pipeline, message.stage)).inc()

    def stage_started(self, stage: StageInfo) -> None:
        self.metrics.stages_running.labels(stage.queue).inc()
        if stage.followed:
            self.metrics.stages_followed.labels(stage.queue, task_name(stage.pipeline, stage.stage)).inc()
        if stage.since_submit is not None:
            self.metrics.admission_wait.labels(stage.lane).observe(stage.since_submit)

    def stage_finished(self, finished: StageFinished) -> None:
        stage = finished.stage
        self.metrics.stages_running.labels(stage.queue).dec()
        self.metrics.tasks_completed.labels(stage.queue, finished.outcome).inc()
        self.metrics.task_duration.labels(task_name(stage.pipeline, stage.stage)).observe(finished.seconds)

    def stage_retried(self, finished: StageFinished) -> None:
        stage = finished.stage
        self.metrics.stage_retries.labels(task_name(stage.pipeline, stage.stage)).inc()

    def lease_lost(self, lost: LostLease) -> None:
        self.metrics.leases_lost.labels(lost.noticed_by).inc()

    def job_finished(self, job: JobFinished) -> None:
        self.metrics.jobs_finished.labels(job.pipeline, job.lane, job.status).inc()
        if job.seconds is not None:
            self.metrics.job_duration.labels(job.pipeline).observe(job.seconds)
        if job.status == "succeeded" and job.media_seconds:
            self.metrics.media_processed.labels(job.pipeline).inc(job.media_seconds)


__all__ = ["DURATION_BUCKETS", "EventMetrics", "MetricsHooks", "event_metrics", "task_name"]
