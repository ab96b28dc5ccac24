"""The deployment's state at a glance, for the Prometheus gauges read at scrape time
(mediajobs.monitoring.state): open jobs by status and lane, the longest wait per lane, the outbox's
and the durable hooks' backlogs. One read connection, four statements, each on an index (jobs by
status, stage runs by status, the outbox's unsent rows, deliveries by status), so a scrape costs the
same with a million finished jobs as with ten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from mediajobs.domain import OPEN_JOB_STATUSES, StageStatus
from mediajobs.domain.deliveries import DeliveryStatus

from .tables import HookDeliveryRow, JobRow, OutboxRow, StageRunRow
from .tx import Database

OPEN = sorted(OPEN_JOB_STATUSES)


@dataclass(frozen=True, kw_only=True, slots=True)
class Backlog:
    count: int
    oldest: datetime | None  # when the longest-waiting one became due


@dataclass(frozen=True, kw_only=True, slots=True)
class Snapshot:
    at: datetime  # the database clock when it was read
    open_jobs: dict[tuple[str, str], int]  # (status, lane) -> jobs; open statuses only
    oldest_waiting: dict[str, datetime]  # lane -> when its longest-waiting stage became ready or due
    outbox: Backlog  # stage messages due and not yet on the broker
    deliveries: Backlog  # durable hooks' deliveries due and not yet delivered


class Stats:
    def __init__(self, db: Database) -> None:
        self._db = db

    def snapshot(self) -> Snapshot:
        now = self._db.clock()
        lane = func.coalesce(StageRunRow.routed_lane, JobRow.lane)
        with self._db.read() as conn:
            jobs = conn.execute(
                select(JobRow.status, JobRow.lane, func.count())
                .where(JobRow.status.in_(OPEN))
                .group_by(JobRow.status, JobRow.lane)
            ).all()
            waiting = conn.execute(
                select(lane, func.min(StageRunRow.available_at))
                .join(JobRow, JobRow.id == StageRunRow.job_id)
                .where(
                    StageRunRow.status.in_([StageStatus.READY, StageStatus.QUEUED]),
                    StageRunRow.available_at <= now,
                    JobRow.status.in_(OPEN),
                )
                .group_by(lane)
            ).all()
            outbox = conn.execute(
                select(func.count(), func.min(OutboxRow.available_at)).where(
                    OutboxRow.sent_at.is_(None), OutboxRow.available_at <= now
                )
            ).one()
            deliveries = conn.execute(
                select(func.count(), func.min(HookDeliveryRow.available_at)).where(
                    HookDeliveryRow.status == DeliveryStatus.PENDING, HookDeliveryRow.available_at <= now
                )
            ).one()
        return Snapshot(
            at=now,
            open_jobs={(str(status), str(lane_name)): int(n) for status, lane_name, n in jobs},
            oldest_waiting={str(lane_name): first for lane_name, first in waiting if first is not None},
            outbox=Backlog(count=int(outbox[0]), oldest=outbox[1]),
            deliveries=Backlog(count=int(deliveries[0]), oldest=deliveries[1]),
        )


__all__ = ["Backlog", "Snapshot", "Stats"]
