"""The hook interface: what cross-cutting concerns (logging, metrics, webhooks) are told, and when.

The runner calls the stage hooks in the worker process; the store calls `job_finished` after the
transaction that ended a job committed (whoever ended it: a runner, the API's cancel, the reaper).
Every method is a no-op here, so a hook overrides only what it cares about. A hook must be quick and
must not raise: a failing hook is logged and skipped, never allowed to fail a stage.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from mediajobs.domain.models import ErrorInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class StageInfo:
    """One attempt of one stage, as the hooks see it."""

    job_id: uuid.UUID
    pipeline: str
    stage: str
    kind: str
    attempt: int
    worker: str


@dataclass(frozen=True, kw_only=True, slots=True)
class StageFinished:
    stage: StageInfo
    outcome: str  # an AttemptOutcome value, or "refused" (nothing ran)
    seconds: float  # how long the attempt ran
    error: ErrorInfo | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class JobFinished:
    job_id: uuid.UUID
    owner_id: str
    pipeline: str
    status: str  # succeeded | failed | cancelled
    error: ErrorInfo | None = None


class Hooks:
    """No-op hooks; subclass and override what you need."""

    def stage_started(self, stage: StageInfo) -> None:
        """A runner claimed the stage and is about to run its code."""

    def stage_progress(self, stage: StageInfo, percent: float | None, message: str | None) -> None:
        """The stage reported progress (throttled: at most a few times a second)."""

    def stage_finished(self, finished: StageFinished) -> None:
        """The attempt ended: succeeded, retry, failed, cancelled or lease_lost."""

    def job_finished(self, job: JobFinished) -> None:
        """The job reached a final status (its transaction has committed)."""


class HookChain(Hooks):
    """Several hooks in order; one that raises is logged and the others still run."""

    def __init__(self, hooks: Iterable[Hooks]) -> None:
        self.hooks = tuple(hooks)

    def stage_started(self, stage: StageInfo) -> None:
        for hook in self.hooks:
            _call(hook.stage_started, stage)

    def stage_progress(self, stage: StageInfo, percent: float | None, message: str | None) -> None:
        for hook in self.hooks:
            _call(hook.stage_progress, stage, percent, message)

    def stage_finished(self, finished: StageFinished) -> None:
        for hook in self.hooks:
            _call(hook.stage_finished, finished)

    def job_finished(self, job: JobFinished) -> None:
        for hook in self.hooks:
            _call(hook.job_finished, job)


def _call(method: object, *args: object) -> None:
    try:
        method(*args)  # type: ignore[operator]
    except Exception:
        log.warning("hook %r failed", method, exc_info=True)


__all__ = ["HookChain", "Hooks", "JobFinished", "StageFinished", "StageInfo"]
