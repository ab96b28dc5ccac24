"""Runs one stage of one job: claim it under a lease, execute it, checkpoint it, hand on.

The runner is the only bridge between a delivered message and a stage. The stage's code is the one
its pipeline's graph declares (`StageSpec.code`). It knows nothing of Celery (the task that calls it
passes the exception types its time limits raise) and nothing of SQL (the store raises
`StoreUnavailable` when the database is away). Every store write goes through the dispatcher's
`settled`, so the successor stage it made ready (or the stage its freed slot went to) is published
right after the commit.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace

from mediajobs.domain import AttemptOutcome, ErrorInfo, Job, JobStatus, RetryPolicy
from mediajobs.domain.budget import TaskBudget
from mediajobs.domain.routing import queue_name
from mediajobs.drain import Drain
from mediajobs.engines import Engines
from mediajobs.errors import (
    HandedBack,
    JobCancelled,
    LeaseLost,
    MediaJobsError,
    PermanentError,
    RetryableError,
    StoreUnavailable,
)
from mediajobs.hooks import Hooks, LostLease, StageFinished, StageInfo
from mediajobs.queue.dispatcher import Dispatcher
from mediajobs.redact import host_folders, scrub
from mediajobs.settings import Settings
from mediajobs.stages.base import CancelToken, StageContext, StageFn, StageResult
from mediajobs.storage import MeteredStorage, Storage, Workspace, artifact_key
from mediajobs.store import ArtifactRecord, Claim, Follow, JobStore, Refusal

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class RunOutcome:
    """What happened to one delivered stage message."""

    outcome: str  # succeeded | retry | failed | cancelled | lease_lost | handed_back | refused
    job: Job | None = None
    refusal: Refusal | None = None
    error: ErrorInfo | None = None
    retry_in: float | None = None  # outcome `retry`: seconds until the next attempt may start
    followed: Claim | None = None  # succeeded: the successor this worker claimed to run next


class _Heartbeat(threading.Thread):
    """Renews the lease while the stage runs, and trips the cancel token on cancel or lost lease."""

    def __init__(
        self, store: JobStore, claim: Claim, token: CancelToken, *, every: float, lease: float
    ) -> None:
        super().__init__(name=f"heartbeat-{claim.job.id}-{claim.stage.name}", daemon=True)
        self._store, self._claim, self._token = store, claim, token
        self._every, self._lease = every, lease
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self._every):
            try:
                if self._store.leases.renew_lease(self._claim, self._lease):
                    self._token.cancel(JobCancelled(f"job {self._claim.job.id} was cancelled"))
            except LeaseLost as exc:
                self._token.cancel(exc)
                return
            except Exception:  # database blip: keep trying until the lease itself runs out
                log.warning("lease renewal failed for job %s", self._claim.job.id, exc_info=True)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


@dataclass(kw_only=True)
class ThrottledProgress:
    """Progress sink of one claim: writes at most every `min_interval` seconds, always the last 100%."""

    store: JobStore
    claim: Claim
    token: CancelToken
    hooks: Hooks = field(default_factory=Hooks)
    info: StageInfo | None = None
    min_interval: float = 0.5
    _last_write: float = field(default=0.0, init=False)
    _last_percent: float = field(default=-1.0, init=False)

    def report(self, percent: float | None, message: str | None = None) -> None:
        now = time.monotonic()
        final = percent is not None and percent >= 100.0
        if not final and now - self._last_write < self.min_interval:
            return
        if percent is not None and percent == self._last_percent and not message:
            return
        self._last_write = now
        try:
            self.store.stages.report_progress(self.claim, percent, message)
        except LeaseLost as exc:
            self.token.cancel(exc)
            return
        except StoreUnavailable:  # progress is best effort: a database blip must not fail the stage
            log.warning(
                "could not record progress of %s/%s", self.claim.job.id, self.claim.stage.name, exc_info=True
            )
            return
        if percent is not None:
            self._last_percent = percent
        if self.info is not None:
            self.hooks.stage_progress(self.info, percent, message)


class _JobMeter:
    """Charges what a stage stores to its job (and so to the job's owner)."""

    def __init__(self, store: JobStore, job_id: uuid.UUID, settings: Settings) -> None:
        self._store, self._job_id, self._settings = store, job_id, settings

    def charge(self, size: int) -> None:
        if size:
            self._store.stored.charge_job(self._job_id, size, self._settings.tier_limits())


@dataclass(kw_only=True)
class Runner:
    store: JobStore
    dispatcher: Dispatcher
    storage: Storage
    workspace: Workspace
    settings: Settings
    engines: Engines
    hooks: Hooks = field(default_factory=Hooks)
    # how a failed stage of a pipeline (by name) is retried; default: the settings' policy for it
    retry_policy: Callable[[str], RetryPolicy] | None = None
    timeout_errors: tuple[type[BaseException], ...] = ()  # e.g. Celery's SoftTimeLimitExceeded
    worker_id: str = field(default_factory=lambda: f"{os.uname().nodename}:{os.getpid()}")
    # sticky stages: the queues this worker consumes (none: every successor goes through the broker),
    # those of lanes faster than a given lane, and each stage's (soft, hard) time limits
    consumes: frozenset[str] = frozenset()
    faster_queues: Callable[[str], Sequence[str]] | None = None
    time_limits: Callable[[str, str, float | None], tuple[int, int]] | None = None
    # a worker's drain (drain.py): stops following successors when the worker stops, and hands back
    # the stages still running when the grace period is over
    drain: Drain | None = None

    def run(self, job_id: uuid.UUID, stage: str, budget: TaskBudget | None = None) -> RunOutcome:
        """Claim and run the stage of a delivered message; then, while its successor is one this
        worker takes itself (claimed in the completion's transaction), run that too, within the
        broker task's `budget`. The outcome of the last stage run."""
        claim = self.dispatcher.settled(
            self.store.stages.claim_stage,
            job_id,
            stage,
            worker=self.worker_id,
            lease_seconds=self.settings.lease_seconds,
        )
        if isinstance(claim, Refusal):
            log.info("not running %s/%s: %s", job_id, stage, claim.value)
            return RunOutcome(outcome="refused", refusal=claim)
        outcome = self._run_claimed(claim, budget)
        while outcome.followed is not None:
            outcome = self._run_claimed(outcome.followed, budget, followed=True)
        return outcome

    def _run_claimed(self, claim: Claim, budget: TaskBudget | None, *, followed: bool = False) -> RunOutcome:
        job_id, stage = claim.job.id, claim.stage.name
        lane = claim.stage.routed_lane or claim.job.lane
        info = StageInfo(
            job_id=job_id,
            pipeline=claim.job.pipeline,
            stage=stage,
            kind=claim.stage.kind,
            attempt=claim.attempt,
            worker=self.worker_id,
            lane=lane,
            queue=queue_name(claim.stage.kind, lane=lane, prefix=self.settings.queue_prefix),
            tier=claim.tier,
            media_seconds=claim.job.media_seconds,
            owner_id=claim.job.owner_id,
            since_submit=_since_submit(claim),
            followed=followed,
        )
        self.hooks.stage_started(info)
        started = time.monotonic()
        outcome = self._execute(claim, info, budget)
        finished = StageFinished(
            stage=info,
            outcome=outcome.outcome,
            seconds=time.monotonic() - started,
            error=outcome.error,
            retry_in=outcome.retry_in,
        )
        self.hooks.stage_finished(finished)
        if outcome.outcome == AttemptOutcome.RETRY:
            self.hooks.stage_retried(finished)
        elif outcome.outcome == AttemptOutcome.LEASE_LOST:
            lost = LostLease(
                job_id=job_id, stage=stage, worker=self.worker_id, noticed_by="runner", requeued=True
            )
            self.hooks.lease_lost(lost)
        return outcome

    def _execute(self, claim: Claim, info: StageInfo, budget: TaskBudget | None = None) -> RunOutcome:
        job_id, stage = claim.job.id, claim.stage.name
        token = CancelToken()
        heartbeat = _Heartbeat(
            self.store, claim, token, every=self.settings.heartbeat_seconds, lease=self.settings.lease_seconds
        )
        try:
            ctx = StageContext(
                job_id=job_id,
                stage=stage,
                attempt=claim.attempt,
                fence=claim.fence,
                source=claim.job.source,
                options=claim.job.options,
                inputs=claim.inputs,
                params=dict(claim.stage.params or {}),
                work_dir=self.workspace.fresh(job_id, stage, claim.attempt),
                storage=self._metered(claim),
                settings=self.settings,
                engines=self.engines,
                progress=ThrottledProgress(
                    store=self.store, claim=claim, token=token, hooks=self.hooks, info=info
                ),
                cancel=token,
                find_artifact=self.store.artifacts.get_artifact,
                owner_secrets=lambda: self.store.users.signing_secrets(claim.job.owner_id),
            )
            code = self._code(claim)
            heartbeat.start()
            try:
                with self._watched(token):
                    result = code(ctx)
                    token.raise_if_set()
            finally:
                heartbeat.stop()
            return self._succeed(claim, result, budget)
        except BaseException as exc:
            if isinstance(token.error, HandedBack) and not isinstance(exc, LeaseLost | StoreUnavailable):
                exc = token.error  # however the stage reported its stop, the drain stopped it
            return self._record_failure(claim, exc)
        finally:
            self.workspace.clear(job_id, stage, claim.attempt)

    def _metered(self, claim: Claim) -> MeteredStorage:
        """Storage whose every stored byte is charged to the job's owner (store/stored.py): a file
        past their stored-bytes limit fails the job with `storage_quota_exceeded`."""
        return MeteredStorage(self.storage, _JobMeter(self.store, claim.job.id, self.settings))

    def _watched(self, token: CancelToken) -> AbstractContextManager[None]:
        return self.drain.watch(token) if self.drain is not None else nullcontext()

    def _code(self, claim: Claim) -> StageFn:
        """The code the job's pipeline declares for this stage (or, for a fan-out child, its parent's
        fan-out); PermanentError `unknown_stage` when this worker does not know it."""
        pipeline = self.store.pipelines.get(claim.job.pipeline)
        try:
            spec = None if pipeline is None else pipeline.spec_of(claim.stage.name, claim.stage.parent)
        except KeyError:
            spec = None
        if spec is None:
            raise PermanentError(
                f"this worker has no code for stage {claim.stage.name!r} of pipeline {claim.job.pipeline!r} "
                "(is its plug-in in MEDIAJOBS_PLUGINS here?)",
                code="unknown_stage",
            )
        code: StageFn = spec.code
        return code

    def _succeed(self, claim: Claim, result: StageResult, budget: TaskBudget | None = None) -> RunOutcome:
        records = []
        storage = self._metered(claim)
        for artifact in result.artifacts:
            key = artifact_key(claim.job.id, artifact.name, version=claim.fence)
            stored = storage.put_file(key, artifact.path)
            records.append(
                ArtifactRecord(
                    name=artifact.name, content_type=artifact.content_type, size=stored.size, key=key
                )
            )
        job, followed = self.dispatcher.settled(
            self.store.stages.complete_and_follow,
            claim,
            result.output,
            records,
            result.children,
            self._follow(claim, budget),
        )
        # A job that fails here was refused by a quota on what the stage measured (store/metering.py)
        refused = job.status is JobStatus.FAILED
        return RunOutcome(
            outcome=AttemptOutcome.FAILED if refused else AttemptOutcome.SUCCEEDED, job=job, followed=followed
        )

    def _follow(self, claim: Claim, budget: TaskBudget | None) -> Follow | None:
        """Which successors of `claim`'s stage this worker runs itself: those bound for a queue it
        consumes, while no faster lane's work waits in the broker for it, and while the broker task's
        time limits leave room (`TaskBudget.fits`); None when it follows none."""
        if not self.consumes or (self.drain is not None and self.drain.draining):
            return None  # a stopping worker starts nothing new: the successor goes through the broker
        faster = self.faster_queues(claim.job.lane) if self.faster_queues is not None else ()
        if faster:
            try:
                if any(self.dispatcher.publisher.queue_sizes(faster).values()):
                    return None  # an express job waits: the broker decides what runs next
            except Exception:
                return None
        consumes, limits = self.consumes, self.time_limits

        def wants(queue: str, pipeline: str, stage: str, media_seconds: float | None) -> bool:
            if queue not in consumes:
                return False
            if budget is None or limits is None:
                return True
            soft, hard = limits(pipeline, stage, media_seconds)
            return budget.fits(soft, hard, time.monotonic())

        return Follow(worker=self.worker_id, lease_seconds=self.settings.lease_seconds, wants=wants)

    def _record_failure(self, claim: Claim, exc: BaseException) -> RunOutcome:
        if isinstance(exc, LeaseLost):
            log.warning("lost the lease on %s/%s; stopping", claim.job.id, claim.stage.name)
            self.dispatcher.settled(self.store.stages.release_lost, claim)
            return RunOutcome(outcome=AttemptOutcome.LEASE_LOST)
        if isinstance(exc, StoreUnavailable):
            # The database went away mid-stage: nothing can be recorded now. The lease expires and the
            # reaper re-queues the stage once the database is back; its committed checkpoints stand.
            log.warning("database unavailable during %s/%s: %s", claim.job.id, claim.stage.name, exc)
            raise exc
        if isinstance(exc, HandedBack):
            log.warning("handing back %s/%s: %s", claim.job.id, claim.stage.name, exc)
            if not self.dispatcher.settled(self.store.leases.hand_back, claim):
                return RunOutcome(outcome=AttemptOutcome.LEASE_LOST)
            return RunOutcome(
                outcome=AttemptOutcome.HANDED_BACK, error=ErrorInfo(code=exc.code, message=exc.message)
            )
        if isinstance(exc, JobCancelled):
            job = self.dispatcher.settled(self.store.stages.cancel_stage, claim)
            return RunOutcome(outcome=AttemptOutcome.CANCELLED, job=job)
        retryable = isinstance(exc, RetryableError)
        if isinstance(exc, self.timeout_errors):
            error = ErrorInfo(
                code="timeout",
                message=f"stage {claim.stage.name} exceeded its soft time limit",
                retryable=False,  # as StageTimeout: the same input runs as long again
            )
        elif isinstance(exc, MediaJobsError):
            message = scrub(exc.message, host_folders(self.settings))
            error = ErrorInfo(code=exc.code, message=message, retryable=not isinstance(exc, PermanentError))
        elif isinstance(exc, Exception):  # a bug, not the input's fault: a retry after a fix may succeed
            log.exception("stage %s/%s crashed", claim.job.id, claim.stage.name)
            message = scrub(f"{type(exc).__name__}: {exc}", host_folders(self.settings))
            error = ErrorInfo(code="internal_error", message=message)
        else:  # KeyboardInterrupt, SystemExit: the process is going away; the lease path takes over
            raise exc
        retry_after = exc.retry_after if isinstance(exc, RetryableError) else None
        chosen = self.retry_policy or self.settings.retry_policy_for
        policy = chosen(claim.job.pipeline)
        attempt = claim.attempt - claim.stage.budget_start  # a manual retry starts a fresh budget
        decision = policy.decide(attempt=attempt, retryable=retryable, retry_after=retry_after)
        delay = decision.delay if decision.retry else None
        if delay is None and retryable:
            error = replace(error, message=f"{error.message} (gave up after {attempt} attempts)")
        job = self.dispatcher.settled(self.store.stages.fail_attempt, claim, error, retry_delay=delay)
        outcome = AttemptOutcome.RETRY if delay is not None else AttemptOutcome.FAILED
        return RunOutcome(outcome=outcome, job=job, error=error, retry_in=delay)


def _since_submit(claim: Claim) -> float | None:
    """Seconds from the job's submit to this claim, when this claim started the job."""
    job = claim.job
    if not claim.started_job or job.started_at is None:
        return None
    return max(0.0, (job.started_at - job.created_at).total_seconds())


__all__ = ["RunOutcome", "Runner", "ThrottledProgress"]
