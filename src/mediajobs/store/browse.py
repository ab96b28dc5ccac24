"""The dashboard's reads: jobs found by filters and pages, the counts of the overview, the users'
usage. Read-only; everything here is also what an admin could learn from the API, assembled for a
page (a user's reads are scoped to their own jobs by `owner_id`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select

from mediajobs.domain import Job, JobStatus, PipelineRegistry
from mediajobs.domain.tenancy import period_of

from .mapping import job_from_row
from .tables import JobRow, StageRunRow, UsageRow, UserRow
from .tx import Database

MAX_MATCHING = 1000  # how many jobs one "retry all matching" may touch


@dataclass(frozen=True, kw_only=True, slots=True)
class JobFilter:
    """What the jobs and failed pages filter on; every field optional."""

    owner_id: str | None = None  # the caller's scope (None: an admin, everybody)
    status: str | None = None
    pipeline: str | None = None
    user: str | None = None  # a user's id or name (admins)
    lane: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None  # an id prefix (hex digits, dashes ignored) or part of the source's name


@dataclass(frozen=True, kw_only=True, slots=True)
class Found:
    jobs: tuple[Job, ...]
    total: int
    owners: dict[str, str]  # user id -> name, for the jobs shown


@dataclass(frozen=True, kw_only=True, slots=True)
class Throughput:
    """Jobs that ended in a window: succeeded and failed."""

    succeeded: int
    failed: int


@dataclass(frozen=True, kw_only=True, slots=True)
class UserUsage:
    user_id: str
    jobs: int
    media_seconds: float


def _is_hex(text: str) -> bool:
    return bool(text) and len(text) <= 32 and all(c in "0123456789abcdef" for c in text)


class Browse:
    def __init__(self, db: Database, pipelines: PipelineRegistry) -> None:
        self._db = db
        self._pipelines = pipelines

    def find(self, f: JobFilter, *, offset: int = 0, limit: int = 50) -> Found:
        """A page of the jobs `f` matches, newest first, and how many match in all."""
        conditions = self._conditions(f)
        with self._db.read() as conn:
            total = conn.execute(select(func.count()).select_from(JobRow).where(*conditions)).scalar_one()
            rows = conn.execute(
                select(JobRow.__table__)
                .where(*conditions)
                .order_by(JobRow.created_at.desc(), JobRow.id.desc())
                .offset(offset)
                .limit(limit)
            ).all()
            stages: dict[uuid.UUID, list[object]] = {}
            if rows:
                for stage in conn.execute(
                    select(StageRunRow.__table__).where(StageRunRow.job_id.in_([r.id for r in rows]))
                ).all():
                    stages.setdefault(stage.job_id, []).append(stage)
            owners = dict(
                conn.execute(
                    select(UserRow.id, UserRow.name).where(UserRow.id.in_({r.owner_id for r in rows}))
                ).all()
            )
        jobs = tuple(job_from_row(r, stages.get(r.id, ()), self._pipelines.get(r.pipeline)) for r in rows)
        return Found(jobs=jobs, total=int(total), owners={str(k): str(v) for k, v in owners.items()})

    def matching_ids(self, f: JobFilter, *, limit: int = MAX_MATCHING) -> list[uuid.UUID]:
        """The ids of the jobs `f` matches (oldest first), at most `limit`."""
        with self._db.read() as conn:
            return list(
                conn.execute(
                    select(JobRow.id).where(*self._conditions(f)).order_by(JobRow.created_at).limit(limit)
                ).scalars()
            )

    def _conditions(self, f: JobFilter) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if f.owner_id is not None:
            where.append(JobRow.owner_id == f.owner_id)
        if f.status:
            where.append(JobRow.status == f.status)
        if f.pipeline:
            where.append(JobRow.pipeline == f.pipeline)
        if f.lane:
            where.append(JobRow.lane == f.lane)
        if f.user:
            named = select(UserRow.id).where(or_(UserRow.id == f.user, UserRow.name == f.user))
            where.append(JobRow.owner_id.in_(named.scalar_subquery()))
        if f.since is not None:
            where.append(JobRow.created_at >= f.since)
        if f.until is not None:
            where.append(JobRow.created_at < f.until)
        text = (f.search or "").strip()
        if text:
            digits = text.replace("-", "").lower()
            by_name = JobRow.source_name.icontains(text, autoescape=True)
            if _is_hex(digits):
                low, high = uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))
                where.append(or_(and_(JobRow.id >= low, JobRow.id <= high), by_name))
            else:
                where.append(by_name)
        return where

    def counts(self, owner_id: str | None) -> dict[tuple[str, str], int]:
        """Jobs per (status, lane), every status."""
        query = select(JobRow.status, JobRow.lane, func.count()).group_by(JobRow.status, JobRow.lane)
        if owner_id is not None:
            query = query.where(JobRow.owner_id == owner_id)
        with self._db.read() as conn:
            return {(str(s), str(lane)): int(n) for s, lane, n in conn.execute(query).all()}

    def throughput(self, owner_id: str | None, window: timedelta) -> Throughput:
        """Jobs that succeeded and failed within the last `window`."""
        since = self._db.clock() - window
        query = (
            select(JobRow.status, func.count())
            .where(
                JobRow.finished_at >= since,
                JobRow.status.in_([JobStatus.SUCCEEDED, JobStatus.FAILED]),
            )
            .group_by(JobRow.status)
        )
        if owner_id is not None:
            query = query.where(JobRow.owner_id == owner_id)
        with self._db.read() as conn:
            found = {str(s): int(n) for s, n in conn.execute(query).all()}
        return Throughput(succeeded=found.get(JobStatus.SUCCEEDED, 0), failed=found.get(JobStatus.FAILED, 0))

    def usage(self, user_ids: Sequence[str]) -> dict[str, UserUsage]:
        """This period's usage of each of `user_ids` (absent: none yet)."""
        period = period_of(self._db.clock())
        with self._db.read() as conn:
            rows = conn.execute(
                select(UsageRow.user_id, UsageRow.jobs, UsageRow.media_seconds).where(
                    UsageRow.period == period, UsageRow.user_id.in_(list(user_ids))
                )
            ).all()
        return {
            r.user_id: UserUsage(user_id=r.user_id, jobs=int(r.jobs), media_seconds=float(r.media_seconds))
            for r in rows
        }


__all__ = ["MAX_MATCHING", "Browse", "Found", "JobFilter", "Throughput", "UserUsage"]
