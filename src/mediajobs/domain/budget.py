"""The time a worker's broker task may still take, for deciding whether it runs one more stage.

A worker that finishes a stage may claim its successor and run it in the same broker task (sticky
stages: no broker round trip; see store/stages.py `complete_and_follow`). The task's time limits
(Celery's soft and hard limits, started with the task) then cover both stages, so a successor is
followed only when what is left of them is at least `FOLLOW_SHARE` of the successor's own limits: a
followed stage may lose up to a tenth of its time budget, which in practice means short stages
follow their predecessor and a stage that ran for minutes hands on through the broker (where a
round trip is negligible anyway). And never when what is left is more than the successor's own
limits: the task's limits are all that stops a followed stage, so a stage given a shorter limit
than its predecessor's (MEDIAJOBS_STAGE_TIME_LIMITS) goes through the broker and its own limit holds.
"""

from __future__ import annotations

from dataclasses import dataclass

FOLLOW_SHARE = 0.9


@dataclass(frozen=True, slots=True)
class TaskBudget:
    """The limits of the running broker task, from when it started (`time.monotonic()` seconds)."""

    started: float
    soft: float | None = None
    hard: float | None = None

    def fits(self, soft: float, hard: float, now: float) -> bool:
        """May a stage with limits (`soft`, `hard`) run in this task at `now`: is what is left of each
        of the task's limits between `FOLLOW_SHARE` of the stage's own and the stage's own?"""
        elapsed = now - self.started
        return all(
            limit is not None and FOLLOW_SHARE * own <= limit - elapsed <= own
            for limit, own in ((self.soft, soft), (self.hard, hard))
        )


__all__ = ["FOLLOW_SHARE", "TaskBudget"]
