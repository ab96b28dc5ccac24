"""The hook interface: what cross-cutting concerns (logs, metrics, webhooks) are told, and when.

dramatiq's middleware is the model: one class with a no-op method per event, a hook overrides what it
cares about. Every event carries what a metric or a log line needs (pipeline, stage, queue kind,
lane, queue, tier, attempt, duration, media seconds) and never needs a database read.

    process_started / process_stopping   an API, worker or beat process (its queues, for a worker)
    job_submitted                        a job was written (its transaction has committed)
    message_published                    the broker took a stage message
    stage_started                        a runner claimed a stage and is about to run its code
    stage_progress                       the stage reported progress (throttled)
    stage_finished                       an attempt ended: succeeded, retry, failed, cancelled, lease_lost
    stage_retried                        ... and it will run again after `retry_in` seconds
    lease_lost                           a stage's runner lost its lease (it saw so, or the reaper did)
    job_finished                         a job reached a final status (its transaction has committed)

Hooks run in the process where the event happens, must be quick and must not raise: a failing hook is
logged and skipped, never allowed to fail a stage. A hook that must survive a crash between the
commit and its action (webhooks) is a `DurableHook` (durable.py): its deliveries are written in the
transaction that ends the job and sent from their own queue.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mediajobs.domain.models import ErrorInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class ProcessInfo:
    """A mediajobs process."""

    role: str  # api | worker | beat
    hostname: str
    pid: int
    queues: tuple[str, ...] = ()  # what a worker consumes


@dataclass(frozen=True, kw_only=True, slots=True)
class StageInfo:
    """One attempt of one stage, as the hooks see it."""

    job_id: uuid.UUID
    pipeline: str
    stage: str
    kind: str  # the queue kind
    attempt: int
    worker: str
    lane: str = "standard"
    queue: str = ""  # the broker queue its message came from
    tier: str | None = None  # the job owner's tier
    media_seconds: float | None = None  # the job's media length, once measured
    owner_id: str | None = None  # the job's owner (for log lines; never a metric label)
    since_submit: float | None = None  # this attempt started its job: seconds since the job was submitted
    followed: bool = False  # claimed by its predecessor's worker as that ended: it came with no message


@dataclass(frozen=True, kw_only=True, slots=True)
class StageFinished:
    stage: StageInfo
    outcome: str  # an AttemptOutcome value, or "refused" (nothing ran)
    seconds: float  # how long the attempt ran
    error: ErrorInfo | None = None
    retry_in: float | None = None  # outcome `retry`: seconds until the next attempt may start


@dataclass(frozen=True, kw_only=True, slots=True)
class LostLease:
    job_id: uuid.UUID
    stage: str
    worker: str | None  # the runner that held it, when known
    noticed_by: str  # runner (it found another had taken over) | reaper (its lease expired)
    requeued: bool  # False: the job ended (cancelled, or the stage kept losing its worker)


@dataclass(frozen=True, kw_only=True, slots=True)
class JobSubmitted:
    job_id: uuid.UUID
    owner_id: str
    pipeline: str
    lane: str
    tier: str | None = None
    rerun_of: uuid.UUID | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class MessagePublished:
    job_id: uuid.UUID
    pipeline: str
    stage: str
    queue: str
    media_seconds: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class JobFinished:
    job_id: uuid.UUID
    owner_id: str
    pipeline: str
    status: str  # succeeded | failed | cancelled
    error: ErrorInfo | None = None
    lane: str = "standard"
    seconds: float | None = None  # from submit to end
    media_seconds: float | None = None
    callback_url: str | None = None  # where the job asked its end to be announced (a webhook)


@dataclass(frozen=True, kw_only=True, slots=True)
class BatchFinished:
    """A batch ended with its last item (in that item's transaction); durable hooks are asked what
    they owe about it (`DurableHook.batch_deliveries`)."""

    batch_id: uuid.UUID
    owner_id: str
    status: str  # a BatchStatus value other than running
    items: int
    callback_url: str | None = None


class Hooks:
    """No-op hooks; subclass and override what you need."""

    def process_started(self, process: ProcessInfo) -> None:
        """An API, worker (main process) or beat process is up."""

    def process_stopping(self, process: ProcessInfo) -> None:
        """It is shutting down cleanly."""

    def job_submitted(self, job: JobSubmitted) -> None:
        """A job (or a re-run) was written; its transaction has committed."""

    def message_published(self, message: MessagePublished) -> None:
        """The broker accepted a stage message."""

    def stage_started(self, stage: StageInfo) -> None:
        """A runner claimed the stage and is about to run its code."""

    def stage_progress(self, stage: StageInfo, percent: float | None, message: str | None) -> None:
        """The stage reported progress (throttled: at most a few times a second)."""

    def stage_finished(self, finished: StageFinished) -> None:
        """The attempt ended: succeeded, retry, failed, cancelled or lease_lost."""

    def stage_retried(self, finished: StageFinished) -> None:
        """The attempt failed and the stage will run again (`finished.retry_in` seconds from now)."""

    def lease_lost(self, lost: LostLease) -> None:
        """A stage's lease was lost: its runner noticed, or the reaper found it expired."""

    def job_finished(self, job: JobFinished) -> None:
        """The job reached a final status (its transaction has committed)."""


class HookChain(Hooks):
    """Several hooks in order; one that raises is logged and the others still run."""

    def __init__(self, hooks: Iterable[Hooks]) -> None:
        self.hooks = tuple(hooks)

    def _each(self, event: Callable[[Hooks], Callable[..., None]], *args: object) -> None:
        for hook in self.hooks:
            method = event(hook)
            try:
                method(*args)
            except Exception:
                log.warning("hook %r failed", method, exc_info=True)

    def process_started(self, process: ProcessInfo) -> None:
        self._each(lambda h: h.process_started, process)

    def process_stopping(self, process: ProcessInfo) -> None:
        self._each(lambda h: h.process_stopping, process)

    def job_submitted(self, job: JobSubmitted) -> None:
        self._each(lambda h: h.job_submitted, job)

    def message_published(self, message: MessagePublished) -> None:
        self._each(lambda h: h.message_published, message)

    def stage_started(self, stage: StageInfo) -> None:
        self._each(lambda h: h.stage_started, stage)

    def stage_progress(self, stage: StageInfo, percent: float | None, message: str | None) -> None:
        self._each(lambda h: h.stage_progress, stage, percent, message)

    def stage_finished(self, finished: StageFinished) -> None:
        self._each(lambda h: h.stage_finished, finished)

    def stage_retried(self, finished: StageFinished) -> None:
        self._each(lambda h: h.stage_retried, finished)

    def lease_lost(self, lost: LostLease) -> None:
        self._each(lambda h: h.lease_lost, lost)

    def job_finished(self, job: JobFinished) -> None:
        self._each(lambda h: h.job_finished, job)


__all__ = [
    "BatchFinished",
    "HookChain",
    "Hooks",
    "JobFinished",
    "JobSubmitted",
    "LostLease",
    "MessagePublished",
    "ProcessInfo",
    "StageFinished",
    "StageInfo",
]
