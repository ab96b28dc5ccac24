"""The database side of the periodic tasks: at-most-once runs per period, usage roll-over and
reconciliation, and finding what the daily cleanup removes.

`claim_run(task, period)` inserts a `task_runs` row whose primary key is (task, period): the first
runner gets it, every other runner (a second beat process started by mistake, a retried message)
finds it taken and does nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from mediajobs.domain import ENDED_JOB_STATUSES, JobStatus, StageStatus
from mediajobs.domain.tenancy import next_period_start, period_of

from .stored import files_removed
from .tables import JobRow, StageRunRow, TaskRunRow, UploadRow, UsageRow
from .tx import Database


@dataclass(frozen=True, kw_only=True, slots=True)
class Orphan:
    upload_id: uuid.UUID
    key: str


class Periodic:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- at most once per period ---------------------------------------------------------------

    def claim_run(self, task: str, period: str) -> bool:
        """True for the one caller that runs `task` for `period`."""
        try:
            with self._db.tx() as tx:
                tx.conn.execute(insert(TaskRunRow).values(task=task, period=period, started_at=tx.now))
        except IntegrityError:
            return False
        return True

    def finish_run(self, task: str, period: str, result: dict[str, Any]) -> None:
        with self._db.tx() as tx:
            tx.conn.execute(
                update(TaskRunRow)
                .where(TaskRunRow.task == task, TaskRunRow.period == period)
                .values(finished_at=tx.now, result=result)
            )

    def runs(self, task: str) -> list[tuple[str, dict[str, Any] | None]]:
        """(period, result) of a task's runs, oldest first (what an operator looks at)."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(TaskRunRow.period, TaskRunRow.result)
                .where(TaskRunRow.task == task)
                .order_by(TaskRunRow.period)
            ).all()
        return [(r.period, r.result) for r in rows]

    # -- usage -----------------------------------------------------------------------------------

    def roll_over(self, now: datetime) -> dict[str, int]:
        """Open the period `now` is in: a zero usage row for every user who used the previous one
        (the old rows stay as the record of their month)."""
        period = period_of(now)
        previous = period_of(
            datetime(now.year - (now.month == 1), (now.month - 2) % 12 + 1, 1, tzinfo=now.tzinfo)
        )
        with self._db.tx() as tx:
            users = list(
                tx.conn.execute(select(UsageRow.user_id).where(UsageRow.period == previous)).scalars()
            )
            upsert = pg_insert if tx.postgres else sqlite_insert
            for user_id in users:
                tx.conn.execute(
                    upsert(UsageRow)
                    .values(user_id=user_id, period=period, jobs=0, media_seconds=0.0, updated_at=tx.now)
                    .on_conflict_do_nothing(index_elements=[UsageRow.user_id, UsageRow.period])
                )
        return {"users_carried": len(users)}

    def reconcile_usage(self, now: datetime) -> dict[str, int]:
        """Recompute the current period's usage from the job table; correct rows that drifted."""
        period = period_of(now)
        start = datetime(now.year, now.month, 1, tzinfo=now.tzinfo)
        end = next_period_start(now)
        with self._db.tx() as tx:
            jobs = dict(
                tx.conn.execute(
                    select(JobRow.owner_id, func.count())
                    .where(JobRow.created_at >= start, JobRow.created_at < end)
                    .group_by(JobRow.owner_id)
                ).all()
            )
            media = dict(
                tx.conn.execute(
                    select(JobRow.owner_id, func.sum(JobRow.media_seconds))
                    .where(
                        JobRow.charged_at >= start,
                        JobRow.charged_at < end,
                        JobRow.reserved_seconds.is_(None),  # settled; a running job's is still reserved
                    )
                    .group_by(JobRow.owner_id)
                ).all()
            )
            stored = {
                r.user_id: (r.jobs, r.media_seconds)
                for r in tx.conn.execute(select(UsageRow.__table__).where(UsageRow.period == period))
            }
            corrected = 0
            upsert = pg_insert if tx.postgres else sqlite_insert
            for user_id in set(jobs) | set(media) | set(stored):
                truth = (int(jobs.get(user_id, 0)), round(float(media.get(user_id) or 0.0), 3))
                have = stored.get(user_id)
                if have is not None and (int(have[0]), round(float(have[1]), 3)) == truth:
                    continue
                corrected += 1
                statement = upsert(UsageRow).values(
                    user_id=user_id, period=period, jobs=truth[0], media_seconds=truth[1], updated_at=tx.now
                )
                tx.conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=[UsageRow.user_id, UsageRow.period],
                        set_={"jobs": truth[0], "media_seconds": truth[1], "updated_at": tx.now},
                    )
                )
        return {"users": len(set(jobs) | set(media) | set(stored)), "corrected": corrected}

    # -- cleanup ----------------------------------------------------------------------------------

    def finished_before(self, cutoff: datetime, *, limit: int = 500) -> list[uuid.UUID]:
        """Jobs that ended before `cutoff` (their files are due for removal)."""
        with self._db.read() as conn:
            return list(
                conn.execute(
                    select(JobRow.id)
                    .where(JobRow.status.in_(sorted(ENDED_JOB_STATUSES)), JobRow.finished_at < cutoff)
                    .order_by(JobRow.finished_at)
                    .limit(limit)
                ).scalars()
            )

    def expire(self, job_id: uuid.UUID) -> bool:
        """Mark a finished job `expired` (its files are gone) and forget its artifacts; the row and
        its history stay."""
        with self._db.tx() as tx:
            row = tx.lock_job(job_id)
            if row is None or row.status not in ENDED_JOB_STATUSES:
                return False
            files_removed(
                tx,
                row,
                JobStatus.EXPIRED,
                "expired: its media and artifacts were removed after the retention period",
            )
        return True

    def orphan_uploads(self, cutoff: datetime, *, limit: int = 500) -> list[Orphan]:
        """Uploads older than `cutoff` that no job names as its source (`jobs.upload_id`, indexed)."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(UploadRow.id, UploadRow.storage_key)
                .where(UploadRow.created_at < cutoff, ~exists().where(JobRow.upload_id == UploadRow.id))
                .order_by(UploadRow.created_at)
                .limit(limit)
            ).all()
        return [Orphan(upload_id=r.id, key=r.storage_key) for r in rows]

    def forget_upload(self, upload_id: uuid.UUID) -> bool:
        """Remove an upload's row unless a job names it by now (checked in the DELETE itself); True
        when removed, and only then may its file go."""
        with self._db.tx() as tx:
            removed = tx.conn.execute(
                delete(UploadRow)
                .where(UploadRow.id == upload_id, ~exists().where(JobRow.upload_id == UploadRow.id))
                .returning(UploadRow.id)
            ).first()
        return removed is not None

    def running_jobs(self) -> set[uuid.UUID]:
        """Jobs with a stage running now (their scratch folders are in use)."""
        with self._db.read() as conn:
            return set(
                conn.execute(
                    select(StageRunRow.job_id)
                    .where(StageRunRow.status == StageStatus.RUNNING)
                    .group_by(StageRunRow.job_id)
                ).scalars()
            )


__all__ = ["Orphan", "Periodic"]
