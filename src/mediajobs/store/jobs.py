"""The API's side of the store: submit, read, list, cancel and retry jobs."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Row, and_, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from mediajobs.domain import (
    Attempt,
    Job,
    JobStatus,
    Lane,
    Pipeline,
    PipelineRegistry,
    StageRun,
    StageStatus,
)
from mediajobs.domain.tenancy import TierLimits
from mediajobs.domain.transitions import (
    CancelAction,
    current_stage,
    job_progress,
    may_retry,
    on_cancel_request,
    ready_stages,
)
from mediajobs.errors import Conflict, NotFound

from .admission import Admission, JobKey
from .artifacts import ArtifactRecord, record_artifacts
from .cursors import JobPage, decode_cursor, encode_cursor
from .events import JobHead, Note, log_events
from .mapping import attempt_from_row, job_from_row, stage_from_row
from .rerun import reused_runs, write_reused
from .tables import AttemptRow, JobRow, StageRunRow, UploadRow
from .tx import Database, Tx
from .users import charge
from .writes import cancel_job, insert_runs, update_job


def load_runs(conn: Connection, job_id: uuid.UUID) -> tuple[StageRun, ...]:
    """Every stage run of a job, in graph order."""
    rows = conn.execute(_RUNS, {"job_id": job_id}).all()
    return tuple(stage_from_row(r) for r in rows)


_RUNS = (  # built once (see store/tx.py)
    select(StageRunRow.__table__)
    .where(StageRunRow.job_id == bindparam("job_id"))
    .order_by(StageRunRow.position)
)
_INSERT_JOB = insert(JobRow)  # executed with the row's values as parameters


class Jobs:
    def __init__(
        self,
        db: Database,
        pipelines: PipelineRegistry,
        admission: Admission,
        *,
        idempotency_ttl: timedelta = timedelta(hours=24),
    ) -> None:
        self._db = db
        self._pipelines = pipelines
        self._admission = admission
        self.idempotency_ttl = idempotency_ttl

    # -- submit ------------------------------------------------------------------------------

    def create_job(
        self,
        *,
        owner_id: str,
        pipeline: Pipeline,
        source: str,
        options: Mapping[str, Any],
        idempotency_key: str | None = None,
        request_hash: str | None = None,
        lane: str = Lane.STANDARD.value,
        source_name: str | None = None,
        quota: TierLimits | None = None,
        callback_url: str | None = None,
    ) -> tuple[Job, bool]:
        """Write the job, its stage rows and the outbox messages of the root stages admission lets
        through, in one transaction. Returns the job and whether it was created (False: an idempotent
        replay of an earlier submit). With `quota`, the job must fit the owner's monthly quotas
        (else TooManyRequests, nothing written)."""
        if idempotency_key is not None:
            existing = self._find_by_idempotency_key(owner_id, idempotency_key, request_hash)
            if existing is not None:
                return existing, False
        job_id = uuid.uuid4()
        try:
            with self._db.tx() as tx:
                job = self._insert(
                    tx,
                    job_id=job_id,
                    owner_id=owner_id,
                    pipeline=pipeline,
                    source=source,
                    options=options,
                    idempotency_key=idempotency_key,
                    request_hash=request_hash,
                    lane=lane,
                    source_name=source_name if source_name is not None else _source_name(tx.conn, source),
                    quota=quota,
                    callback_url=callback_url,
                )
        except IntegrityError:
            if idempotency_key is None:
                raise
            existing = self._find_by_idempotency_key(owner_id, idempotency_key, request_hash)
            if existing is None:
                raise
            return existing, False
        return job, True

    def create_rerun(
        self,
        *,
        job_id: uuid.UUID,
        old: Job,
        pipeline: Pipeline,
        options: Mapping[str, Any],
        reused: Sequence[StageRun],
        redo: Sequence[StageRun] = (),
        artifacts: Sequence[ArtifactRecord] = (),
        quota: TierLimits | None = None,
    ) -> Job:
        """Write a re-run of `old` as the new job `job_id`: `reused` (the old job's finished runs, their
        outputs already pointing at the new job's copies of their files) are written as succeeded and
        never run; the stages they unblock go to admission like any submit's first stages. With
        `quota`, the new job must fit it, exactly as a submit's (TooManyRequests, nothing written)."""
        with self._db.tx() as tx:
            job = self._insert(
                tx,
                job_id=job_id,
                owner_id=old.owner_id,
                pipeline=pipeline,
                source=old.source,
                options=options,
                idempotency_key=None,
                request_hash=None,
                lane=old.lane,
                source_name=old.source_name,
                reused=reused,
                redo=redo,
                rerun_of=old.id,
                callback_url=old.callback_url,  # a re-run's end is announced where the old job's was
                quota=quota,
            )
            record_artifacts(tx, job_id, artifacts)
        return job

    def _insert(
        self,
        tx: Tx,
        *,
        job_id: uuid.UUID,
        owner_id: str,
        pipeline: Pipeline,
        source: str,
        options: Mapping[str, Any],
        idempotency_key: str | None,
        request_hash: str | None,
        lane: str,
        source_name: str | None,
        reused: Sequence[StageRun] = (),
        redo: Sequence[StageRun] = (),
        rerun_of: uuid.UUID | None = None,
        quota: TierLimits | None = None,
        callback_url: str | None = None,
    ) -> Job:
        now = tx.now
        key = JobKey(id=job_id, owner_id=owner_id, lane=lane, created_at=now)
        runs = [
            StageRun(
                job_id=job_id,
                name=spec.name,
                kind=spec.kind.name,
                run=spec.code_name,
                status=StageStatus.PENDING,
            )
            for spec in pipeline.stages
        ]
        if reused:
            runs = reused_runs(job_id, runs, reused, now, redo)
        roots = list(ready_stages(pipeline, runs))
        admitted = self._admission.decide_new(tx, key, roots)
        if len(admitted) < len(roots):  # the others wait: admitted after the commit
            tx.waiting_for.add(owner_id)
        root_names = {r.name for r in roots}
        runs = [
            replace(r, status=StageStatus.QUEUED, available_at=now, routed_lane=admitted[r.name])
            if r.name in admitted
            else replace(r, status=StageStatus.READY, available_at=now)
            if r.name in root_names
            else r
            for r in runs
        ]
        tx.conn.execute(
            _INSERT_JOB,
            dict(
                id=job_id,
                owner_id=owner_id,
                pipeline=pipeline.name,
                source=source,
                options=dict(options),
                status=JobStatus.QUEUED,
                lane=lane,
                current_stage=None,
                progress=0.0,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                source_name=source_name,
                upload_id=_upload_id(source),
                rerun_of=rerun_of,
                callback_url=callback_url,
                event_seq=1,
                created_at=now,
                updated_at=now,
            ),
        )
        insert_runs(tx, runs, first_position=0)
        if reused:
            write_reused(tx, pipeline, runs, owner_id, quota)
        self._admission.send(tx, key, [r for r in runs if r.status is StageStatus.QUEUED])
        head = JobHead(
            job_id=job_id, owner_id=owner_id, status=JobStatus.QUEUED, progress=0.0, file=source_name, seq=0
        )
        log_events(tx, head, [Note(message="job accepted")])
        charge(tx, owner_id, jobs=1, quota=quota)  # last: the usage row stays locked until the commit
        return Job(
            id=job_id,
            owner_id=owner_id,
            pipeline=pipeline.name,
            source=source,
            options=dict(options),
            status=JobStatus.QUEUED,
            created_at=now,
            updated_at=now,
            lane=lane,
            source_name=source_name,
            rerun_of=rerun_of,
            callback_url=callback_url,
            progress=job_progress(pipeline, runs) if reused else 0.0,
            stages=tuple(runs),
        )

    def _find_by_idempotency_key(self, owner_id: str, key: str, request_hash: str | None) -> Job | None:
        """The job an Idempotency-Key named within the last `idempotency_ttl`; an older key is released."""
        with self._db.tx() as tx:
            row = tx.conn.execute(
                select(JobRow.id, JobRow.request_hash, JobRow.created_at).where(
                    JobRow.owner_id == owner_id, JobRow.idempotency_key == key
                )
            ).one_or_none()
            if row is None:
                return None
            if row.created_at < tx.now - self.idempotency_ttl:
                tx.conn.execute(update(JobRow).where(JobRow.id == row.id).values(idempotency_key=None))
                return None
            if row.request_hash != request_hash:
                raise Conflict(
                    "this Idempotency-Key was already used with a different request body",
                    code="idempotency_key_reused",
                )
            return self._read(tx.conn, row.id)

    # -- manual retry ------------------------------------------------------------------------

    def retry_job(
        self, job_id: uuid.UUID, owner_id: str | None = None, *, quota: TierLimits | None = None
    ) -> Job:
        """Re-run a failed or cancelled job from its first unfinished stage, with a fresh retry budget.

        Succeeded stages keep their checkpoints (a downloaded file is not fetched again, finished
        fan-out children do not run again); the attempt history stays as it was. With `quota`, the
        owner's usage must be within it (read exactly, as a submit's charge does; a retry adds no job)
        or TooManyRequests rolls the retry back.
        """
        with self._db.tx() as tx:
            row = self._lock(tx, job_id, owner_id)
            if not may_retry(JobStatus(row.status)):
                raise Conflict(
                    f"job {job_id} is {row.status}: only failed or cancelled jobs can be retried",
                    code="job_not_retryable",
                )
            tx.conn.execute(
                update(StageRunRow)
                .where(StageRunRow.job_id == job_id, StageRunRow.status != StageStatus.SUCCEEDED)
                .values(
                    status=StageStatus.PENDING,
                    budget_start=StageRunRow.attempts,
                    progress=0.0,
                    error_code=None,
                    error_message=None,
                    error_retryable=None,
                    lease_owner=None,
                    lease_expires_at=None,
                    available_at=None,
                    finished_at=None,
                    updated_at=tx.now,
                )
            )
            pipeline = self._pipelines.get_pipeline(row.pipeline)
            runs = load_runs(tx.conn, job_id)
            handed = {
                r.name: r
                for r in self._admission.hand_on(tx, JobKey.of(row), ready_stages(pipeline, runs)).runs
            }
            runs = tuple(handed.get(r.name, r) for r in runs)
            first = next(iter(handed), None)
            number = row.manual_retries + 1
            update_job(
                tx,
                row,
                [Note(message=f"manual retry {number}: re-queued from {first or 'nothing'}", status=None)],
                status=JobStatus.RUNNING if row.started_at else JobStatus.QUEUED,
                error_code=None,
                error_message=None,
                error_retryable=None,
                finished_at=None,
                cancel_requested_at=None,
                manual_retries=number,
                current_stage=current_stage(runs),
                progress=job_progress(pipeline, runs),
            )
            if quota is not None:  # last: the usage row stays locked until the commit
                charge(tx, row.owner_id, quota=quota)
        return self.get_job(job_id)

    def failed_since(self, owner_id: str, since: datetime, *, limit: int = 1000) -> list[uuid.UUID]:
        with self._db.read() as conn:
            return list(
                conn.execute(
                    select(JobRow.id)
                    .where(
                        JobRow.owner_id == owner_id,
                        JobRow.status == JobStatus.FAILED,
                        JobRow.finished_at >= since,
                    )
                    .order_by(JobRow.finished_at)
                    .limit(limit)
                ).scalars()
            )

    # -- cancel ------------------------------------------------------------------------------

    def request_cancel(self, job_id: uuid.UUID, owner_id: str | None = None) -> Job:
        """Record a cancellation. A job with no running stage is cancelled at once; a running stage
        sees the request through its heartbeat and stops."""
        with self._db.tx() as tx:
            row = self._lock(tx, job_id, owner_id)
            runs = load_runs(tx.conn, job_id)
            action = on_cancel_request(JobStatus(row.status), runs)
            if action is CancelAction.CONFLICT:
                raise Conflict(f"job {job_id} is already {row.status}", code="job_finished")
            requested = row.cancel_requested_at or tx.now
            if action is CancelAction.CANCEL_NOW:
                cancel_job(tx, row, cancel_requested_at=requested)
                self._admission.freed(tx, row.owner_id)  # its queued stages held slots
            else:
                tx.conn.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id)
                    .values(cancel_requested_at=requested, updated_at=tx.now)
                )
        return self.get_job(job_id)

    # -- read --------------------------------------------------------------------------------

    def get_job(self, job_id: uuid.UUID, owner_id: str | None = None) -> Job:
        with self._db.read() as conn:
            return self._read(conn, job_id, owner_id)

    def _read(self, conn: Connection, job_id: uuid.UUID, owner_id: str | None = None) -> Job:
        query = select(JobRow.__table__).where(JobRow.id == job_id)
        if owner_id is not None:
            query = query.where(JobRow.owner_id == owner_id)
        row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFound(f"no job with id {job_id}")
        stages = conn.execute(select(StageRunRow.__table__).where(StageRunRow.job_id == job_id)).all()
        return job_from_row(row, stages, self._pipelines.get(row.pipeline))

    def _lock(self, tx: Tx, job_id: uuid.UUID, owner_id: str | None) -> Row[Any]:
        row = tx.lock_job(job_id)
        if row is None or (owner_id is not None and row.owner_id != owner_id):
            raise NotFound(f"no job with id {job_id}")
        return row

    def list_jobs(
        self,
        *,
        owner_id: str | None,
        status: JobStatus | None = None,
        pipeline: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        id_prefix: str | None = None,
        idempotency_key: str | None = None,
    ) -> JobPage:
        """Jobs newest first; `owner_id=None` lists everybody's (admins). `id_prefix`: only the jobs
        whose id starts with these hex digits (dashes ignored), found as a range of the primary key.
        `idempotency_key`: the job that key named, however old (the TTL only decides when the key may
        name a new job); the key stays on its job until then."""
        query = select(JobRow.__table__)
        if owner_id is not None:
            query = query.where(JobRow.owner_id == owner_id)
        if idempotency_key is not None:
            query = query.where(JobRow.idempotency_key == idempotency_key.strip())
        if id_prefix is not None:
            digits = id_prefix.replace("-", "").lower()
            low, high = uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))
            query = query.where(JobRow.id >= low, JobRow.id <= high)
        if status is not None:
            query = query.where(JobRow.status == status)
        if pipeline is not None:
            query = query.where(JobRow.pipeline == pipeline)
        if cursor is not None:
            created, last_id = decode_cursor(cursor)
            query = query.where(
                or_(JobRow.created_at < created, and_(JobRow.created_at == created, JobRow.id < last_id))
            )
        query = query.order_by(JobRow.created_at.desc(), JobRow.id.desc()).limit(limit + 1)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
            more = len(rows) > limit
            rows = rows[:limit]
            stages = _stages_of(conn, [r.id for r in rows])
        jobs = tuple(job_from_row(r, stages.get(r.id, ()), self._pipelines.get(r.pipeline)) for r in rows)
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        return JobPage(jobs=jobs, next_cursor=next_cursor)

    def list_attempts(self, job_id: uuid.UUID) -> tuple[Attempt, ...]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(AttemptRow.__table__).where(AttemptRow.job_id == job_id).order_by(AttemptRow.id)
            ).all()
        return tuple(attempt_from_row(r) for r in rows)


def _stages_of(conn: Connection, job_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    out: dict[uuid.UUID, list[Any]] = {}
    if not job_ids:
        return out
    for row in conn.execute(select(StageRunRow.__table__).where(StageRunRow.job_id.in_(job_ids))):
        out.setdefault(row.job_id, []).append(row)
    return out


def _upload_id(source: str) -> uuid.UUID | None:
    parts = urlsplit(source)
    if parts.scheme != "upload":
        return None
    try:
        return uuid.UUID(parts.netloc)
    except ValueError:
        return None


def _source_name(conn: Connection, source: str) -> str | None:
    """The source's file name, for people: an upload's name, else the URL's last path segment."""
    parts = urlsplit(source)
    if parts.scheme == "upload":
        upload_id = _upload_id(source)
        if upload_id is None:
            return None
        name: str | None = conn.execute(
            select(UploadRow.filename).where(UploadRow.id == upload_id)
        ).scalar_one_or_none()
        return name
    return PurePosixPath(parts.path).name[:255] or parts.hostname


__all__ = ["JobPage", "Jobs", "decode_cursor", "encode_cursor", "load_runs"]
