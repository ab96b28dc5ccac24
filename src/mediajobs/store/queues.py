"""Who consumes which queue, and what waits in each: the reads behind a job's `waiting` reason and
GET /api/v1/queues.

Workers report the queues they consume with every heartbeat (store/leases.py `worker_heartbeat`); a
worker is live while its last beat is younger than a lease period (it beats several times per lease,
and a cleanly stopped worker deletes its row at once).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select

from mediajobs.domain import Job, StageStatus

from .pauses import lane_paused
from .tables import JobRow, StageRunRow, WorkerRow
from .tx import Database, QueueFor


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkerInfo:
    """A live worker process, as its last heartbeat described it."""

    id: str
    hostname: str
    pid: int
    queues: tuple[str, ...]
    concurrency: int
    started_at: datetime
    last_seen: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class QueueBacklog:
    """The stages admitted to one queue and not yet claimed."""

    queue: str
    waiting: int
    oldest: datetime | None  # when the longest-waiting one became due


@dataclass(frozen=True, kw_only=True, slots=True)
class RunningStage:
    """A stage attempt running now, and the runner that holds its lease."""

    job_id: uuid.UUID
    pipeline: str
    stage: str
    kind: str
    lane: str
    attempt: int
    runner: str | None  # the lease owner: `<worker id>/<pool process pid>` for a mediajobs worker
    started_at: datetime | None  # the stage's first start
    lease_expires_at: datetime | None
    progress: float

    @property
    def worker(self) -> str | None:
        """The worker process (as in its heartbeats) whose pool process runs it."""
        return self.runner.split("/", 1)[0] if self.runner else None


@dataclass(frozen=True, kw_only=True, slots=True)
class Waiting:
    """Why a job that has not started (or is between stages) waits, and how many are ahead of it."""

    reason: str  # user_concurrency: the user's stages in flight are at their tier's limit
    #              lane_paused: its lane is paused (store/pauses.py) and it has not started
    #              lane: admitted, waiting in its lane's queue for a free worker
    #              no_worker: admitted to a queue that no live worker consumes
    position: int  # 1 = next of the owner's own stages (user_concurrency: of their held ones)
    queue: str | None = None  # the queue it waits in (lane, no_worker)


class Queues:
    def __init__(self, db: Database, queue_for: QueueFor) -> None:
        self._db = db
        self._queue_for = queue_for

    def live_workers(self, *, silent_for: timedelta) -> list[WorkerInfo]:
        """The workers that beat within `silent_for`, oldest first."""
        cutoff = self._db.clock() - silent_for
        with self._db.read() as conn:
            rows = conn.execute(
                select(WorkerRow.__table__)
                .where(WorkerRow.last_seen >= cutoff)
                .order_by(WorkerRow.started_at)
            ).all()
        return [_worker(row) for row in rows]

    def running(self) -> list[RunningStage]:
        """Every stage running now, longest-running first."""
        lane = func.coalesce(StageRunRow.routed_lane, JobRow.lane)
        with self._db.read() as conn:
            rows = conn.execute(
                select(StageRunRow.__table__, JobRow.pipeline, lane.label("lane_name"))
                .join(JobRow, JobRow.id == StageRunRow.job_id)
                .where(StageRunRow.status == StageStatus.RUNNING)
                .order_by(StageRunRow.started_at, StageRunRow.job_id, StageRunRow.name)
            ).all()
        return [
            RunningStage(
                job_id=row.job_id,
                pipeline=row.pipeline,
                stage=row.name,
                kind=row.kind,
                lane=str(row.lane_name),
                attempt=int(row.attempts),
                runner=row.lease_owner,
                started_at=row.started_at,
                lease_expires_at=row.lease_expires_at,
                progress=float(row.progress or 0.0),
            )
            for row in rows
        ]

    def backlog(self) -> dict[str, QueueBacklog]:
        """Admitted, unclaimed stages by the queue their message went to."""
        lane = func.coalesce(StageRunRow.routed_lane, JobRow.lane)
        with self._db.read() as conn:
            rows = conn.execute(
                select(StageRunRow.kind, lane.label("lane"), func.count(), func.min(StageRunRow.available_at))
                .join(JobRow, JobRow.id == StageRunRow.job_id)
                .where(StageRunRow.status == StageStatus.QUEUED)
                .group_by(StageRunRow.kind, lane)
            ).all()
        counts: dict[str, int] = {}
        oldest: dict[str, datetime] = {}
        for kind, lane_name, count, first in rows:
            queue = self._queue_for(str(lane_name), str(kind))  # lanes of one queue name add up
            counts[queue] = counts.get(queue, 0) + int(count)
            if first is not None:
                oldest[queue] = min(first, oldest.get(queue, first))
        return {q: QueueBacklog(queue=q, waiting=n, oldest=oldest.get(q)) for q, n in counts.items()}

    def waiting(self, job: Job, *, silent_for: timedelta) -> Waiting | None:
        """Why `job` waits, if it does: held by admission, queued behind other work in its lane, or
        queued where no live worker (one that beat within `silent_for`) consumes."""
        if job.status.terminal or any(s.status is StageStatus.RUNNING for s in job.stages):
            return None
        held = [s for s in job.stages if s.status is StageStatus.READY]
        queued = [s for s in job.stages if s.status is StageStatus.QUEUED]
        if held:
            with self._db.read() as conn:
                if job.started_at is None and conn.execute(select(lane_paused(job.lane))).scalar():
                    return Waiting(reason="lane_paused", position=1)
                ahead = conn.execute(
                    select(func.count(func.distinct(StageRunRow.job_id)))
                    .join(JobRow, JobRow.id == StageRunRow.job_id)
                    .where(
                        JobRow.owner_id == job.owner_id,
                        StageRunRow.status == StageStatus.READY,
                        or_(
                            JobRow.created_at < job.created_at,
                            and_(JobRow.created_at == job.created_at, JobRow.id < job.id),
                        ),
                    )
                ).scalar_one()
            return Waiting(reason="user_concurrency", position=int(ahead) + 1)
        if not queued:
            return None
        stage = queued[0]
        lane = stage.routed_lane or job.lane
        queue = self._queue_for(lane, stage.kind)
        # Only the owner's own stages are counted: a count of everybody's would tell a user how much
        # other users submit (issue 23, finding 16). Other users' work ahead shows as the wait itself.
        with self._db.read() as conn:
            ahead = conn.execute(
                select(func.count())
                .select_from(StageRunRow)
                .join(JobRow, JobRow.id == StageRunRow.job_id)
                .where(
                    JobRow.owner_id == job.owner_id,
                    StageRunRow.status == StageStatus.QUEUED,
                    StageRunRow.kind == stage.kind,
                    func.coalesce(StageRunRow.routed_lane, JobRow.lane) == lane,
                    StageRunRow.available_at < stage.available_at,
                )
            ).scalar_one()
        served = any(queue in worker.queues for worker in self.live_workers(silent_for=silent_for))
        return Waiting(reason="lane" if served else "no_worker", position=int(ahead) + 1, queue=queue)


def _worker(row: Any) -> WorkerInfo:
    return WorkerInfo(
        id=row.id,
        hostname=row.hostname,
        pid=row.pid,
        queues=tuple(row.queues or ()),
        concurrency=int(row.concurrency or 0),
        started_at=row.started_at,
        last_seen=row.last_seen,
    )


__all__ = ["QueueBacklog", "Queues", "RunningStage", "Waiting", "WorkerInfo"]
