"""Messages the broker lost, found by counting: the database against the broker's queue lengths.

Every stage that is `queued`, whose message was sent and that no worker has reserved, should have a
message waiting in its queue. When a queue holds fewer messages than the stages that have waited so
for a lease period, some were lost: Redis restarted without having written the newest to disk, or a
worker was killed in the instant between taking a message (kombu's BRPOP) and marking its stage
reserved. A count cannot tell which, so every such stage of a short queue gets its message again, at
once, instead of after the last-resort re-dispatch (15 minutes by default). The duplicates this makes
are dropped by the claim, and they make the queue long enough again, so the sweep stops by itself.

Only stages unchanged for a lease period count, so a message sent a moment ago never makes a queue
look short; a queue that does is counted again a second later (a worker marks a message it took
within milliseconds), and only one still short gets messages. Younger messages in the same queue can
hide a loss until they drain: recovery then waits for the queue to empty, not for the 15 minutes.
A round re-sends at most `limit` messages, oldest first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import exists, func, select

from mediajobs.domain import StageStatus

from .leases import Leases
from .tables import JobRow, OutboxRow, StageRunRow
from .tx import Database, QueueFor

QueueSizes = Callable[[Iterable[str]], dict[str, int]]


@dataclass(frozen=True, slots=True)
class Waiting:
    """Stages of one lane and kind that should each have a message in `queue`."""

    queue: str
    lane: str
    kind: str
    count: int


class Strays:
    def __init__(self, db: Database, queue_for: QueueFor, leases: Leases) -> None:
        self._db = db
        self._queue_for = queue_for
        self._leases = leases

    def _candidates(self) -> list[object]:
        unsent = exists().where(
            OutboxRow.job_id == StageRunRow.job_id,
            OutboxRow.stage == StageRunRow.name,
            OutboxRow.sent_at.is_(None),
        )
        return [
            StageRunRow.status == StageStatus.QUEUED,
            StageRunRow.reserved_by.is_(None),
            ~unsent,
        ]

    def waiting(self, older_than: timedelta) -> list[Waiting]:
        """Per lane and kind: how many stages, queued and unchanged for `older_than`, should each
        have a message in the broker now (younger ones are left out, so a message sent a moment
        ago never makes the broker look short)."""
        lane = func.coalesce(StageRunRow.routed_lane, JobRow.lane)
        cutoff = self._db.clock() - older_than
        with self._db.read() as conn:
            rows = conn.execute(
                select(lane, StageRunRow.kind, func.count())
                .join(JobRow, JobRow.id == StageRunRow.job_id)
                .where(*self._candidates(), StageRunRow.updated_at < cutoff)  # type: ignore[arg-type]
                .group_by(lane, StageRunRow.kind)
            ).all()
        return [
            Waiting(queue=self._queue_for(str(ln), str(kind)), lane=str(ln), kind=str(kind), count=int(n))
            for ln, kind, n in rows
        ]

    def resend_lost(
        self, sizes: QueueSizes, *, older_than: timedelta, settle: float = 1.0, limit: int = 500
    ) -> int:
        """Compare with the broker's queue lengths; send again the waiting stages of a short queue.

        A message a worker has just taken is in neither place for a moment (out of the queue, its
        stage not yet marked reserved), so a queue that looks short is counted again in the
        database `settle` seconds later, against the same broker figure, before anything is sent.
        """
        held: dict[str, int] = {}

        def measured(queues: Iterable[str]) -> dict[str, int]:
            held.update(sizes(queues))
            return held

        short = self._short(measured, older_than)
        if short:
            if settle > 0:
                time.sleep(settle)  # the maintenance thread's own pace, not a test's wait
            again = self._short(lambda queues: {q: held.get(q, 0) for q in queues}, older_than)
            short = {queue: groups for queue, groups in again.items() if queue in short}
        resent = 0
        for groups in short.values():
            for group in groups:
                if resent < limit:
                    resent += self._resend_waiting(group, limit - resent, older_than)
        return resent

    def _short(self, sizes: QueueSizes, older_than: timedelta) -> dict[str, list[Waiting]]:
        expected: dict[str, list[Waiting]] = {}
        for group in self.waiting(older_than):
            expected.setdefault(group.queue, []).append(group)
        if not expected:
            return {}
        held = sizes(expected)
        return {
            queue: groups
            for queue, groups in expected.items()
            if sum(g.count for g in groups) > held.get(queue, 0)
        }

    def _resend_waiting(self, group: Waiting, limit: int, older_than: timedelta) -> int:
        cutoff = self._db.clock() - older_than
        lane = func.coalesce(StageRunRow.routed_lane, JobRow.lane)
        with self._db.read() as conn:
            oldest = conn.execute(
                select(StageRunRow.job_id, StageRunRow.name)
                .join(JobRow, JobRow.id == StageRunRow.job_id)
                .where(
                    *self._candidates(),  # type: ignore[arg-type]
                    StageRunRow.updated_at < cutoff,
                    lane == group.lane,
                    StageRunRow.kind == group.kind,
                )
                .order_by(StageRunRow.updated_at)
                .limit(limit)
            ).all()
        resent = 0
        for job_id, stage in oldest:
            with self._db.tx() as tx:
                if self._leases.resend(tx, job_id, stage, queued_before=cutoff):
                    resent += 1
        return resent


__all__ = ["QueueSizes", "Strays", "Waiting"]
