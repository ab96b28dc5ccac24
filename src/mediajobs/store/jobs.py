"""The API's side of the store: submit, read, list, cancel jobs; uploads and artifacts."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from mediajobs.domain import (
    Artifact,
    Attempt,
    Job,
    JobStatus,
    Pipeline,
    StageStatus,
    Upload,
    get_pipeline,
)
from mediajobs.errors import Conflict, InvalidRequest, NotFound

from .base import StoreBase
from .mapping import artifact_from_row, attempt_from_row, job_from_row, upload_from_row
from .tables import ArtifactRow, AttemptRow, JobRow, StageRunRow, UploadRow


@dataclass(frozen=True, kw_only=True, slots=True)
class JobPage:
    jobs: tuple[Job, ...]
    next_cursor: str | None


def encode_cursor(created_at: datetime, job_id: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{job_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, job_id = raw.split("|", 1)
        created = datetime.fromisoformat(stamp)
        if created.tzinfo is None:
            raise ValueError("cursor timestamp without a time zone")
        return created, uuid.UUID(job_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest("malformed cursor", code="invalid_cursor") from exc


class JobsMixin(StoreBase):
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
    ) -> tuple[Job, bool]:
        """Write the job, its stage rows and the outbox messages of its first stages in one transaction.

        Returns the job and whether it was created (False: an idempotent replay of an earlier submit).
        """
        if idempotency_key is not None:
            existing = self._find_by_idempotency_key(owner_id, idempotency_key, request_hash)
            if existing is not None:
                return existing, False
        job_id = uuid.uuid4()
        now = self.clock()
        try:
            with self._tx() as conn:
                conn.execute(
                    insert(JobRow).values(
                        id=job_id,
                        owner_id=owner_id,
                        pipeline=pipeline.name,
                        source=source,
                        options=dict(options),
                        status=JobStatus.QUEUED.value,
                        current_stage=None,
                        progress=0.0,
                        idempotency_key=idempotency_key,
                        request_hash=request_hash,
                        source_name=self._source_name(conn, source),
                        created_at=now,
                        updated_at=now,
                    )
                )
                conn.execute(
                    insert(StageRunRow),
                    [
                        dict(
                            job_id=job_id,
                            name=spec.name,
                            kind=spec.kind,
                            position=pos,
                            status="pending",
                            attempts=0,
                            progress=0.0,
                            fence=0,
                            updated_at=now,
                        )
                        for pos, spec in enumerate(pipeline.stages)
                    ],
                )
                for spec in pipeline.roots():
                    self._enqueue(conn, job_id=job_id, stage=spec.name, kind=spec.kind, fence=0)
                self._emit(conn, job_id, message="job accepted")
                return self._load_job(conn, job_id), True
        except IntegrityError:
            if idempotency_key is None:
                raise
            existing = self._find_by_idempotency_key(owner_id, idempotency_key, request_hash)
            if existing is None:
                raise
            return existing, False

    def _source_name(self, conn: Any, source: str) -> str | None:
        parts = urlsplit(source)
        if parts.scheme == "upload":
            try:
                upload_id = uuid.UUID(parts.netloc)
            except ValueError:
                return None
            name: str | None = conn.execute(
                select(UploadRow.filename).where(UploadRow.id == upload_id)
            ).scalar_one_or_none()
            return name
        return PurePosixPath(parts.path).name[:255] or parts.hostname

    def _find_by_idempotency_key(self, owner_id: str, key: str, request_hash: str | None) -> Job | None:
        """The job an Idempotency-Key named within the last `idempotency_ttl`; an older key is released."""
        with self._tx() as conn:
            row = conn.execute(
                select(JobRow.id, JobRow.request_hash, JobRow.created_at).where(
                    JobRow.owner_id == owner_id, JobRow.idempotency_key == key
                )
            ).one_or_none()
            if row is None:
                return None
            if row.created_at < self.clock() - self.idempotency_ttl:
                conn.execute(update(JobRow).where(JobRow.id == row.id).values(idempotency_key=None))
                return None
            if row.request_hash != request_hash:
                raise Conflict(
                    "this Idempotency-Key was already used with a different request body",
                    code="idempotency_key_reused",
                )
            return self._load_job(conn, row.id)

    # -- manual retry ------------------------------------------------------------------------

    def retry_job(self, job_id: uuid.UUID, owner_id: str | None = None) -> Job:
        """Re-run a failed or cancelled job from its first unfinished stage, with a fresh retry budget.

        Succeeded stages keep their checkpoints (a downloaded file is not fetched again); the attempt
        history stays as it was.
        """
        now = self.clock()
        with self._tx() as conn:
            self._lock_job(conn, job_id)
            job = self._load_job(conn, job_id, owner_id)
            if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
                raise Conflict(
                    f"job {job_id} is {job.status.value}: only failed or cancelled jobs can be retried",
                    code="job_not_retryable",
                )
            conn.execute(
                update(StageRunRow)
                .where(StageRunRow.job_id == job_id, StageRunRow.status != StageStatus.SUCCEEDED.value)
                .values(
                    status="pending",
                    budget_start=StageRunRow.attempts,
                    progress=0.0,
                    error_code=None,
                    error_message=None,
                    lease_owner=None,
                    lease_expires_at=None,
                    available_at=None,
                    finished_at=None,
                    updated_at=now,
                )
            )
            conn.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status.in_(("failed", "cancelled")))
                .values(
                    status=JobStatus.RUNNING.value if job.started_at else JobStatus.QUEUED.value,
                    error_code=None,
                    error_message=None,
                    finished_at=None,
                    cancel_requested_at=None,
                    manual_retries=JobRow.manual_retries + 1,
                    updated_at=now,
                )
            )
            reset = self._load_job(conn, job_id)
            pipeline = get_pipeline(reset.pipeline)
            runs = {s.name: s for s in reset.stages}
            ready = pipeline.ready_after(runs)
            for spec in ready:
                self._enqueue(
                    conn, job_id=job_id, stage=spec.name, kind=spec.kind, fence=runs[spec.name].fence
                )
            conn.execute(
                update(JobRow)
                .where(JobRow.id == job_id)
                .values(current_stage=ready[0].name if ready else None, progress=pipeline.progress(runs))
            )
            self._emit(
                conn,
                job_id,
                message=f"manual retry {reset.manual_retries}: re-queued from "
                f"{ready[0].name if ready else 'nothing'}",
            )
            return self._load_job(conn, job_id)

    def failed_since(self, owner_id: str, since: datetime, *, limit: int = 1000) -> list[uuid.UUID]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(JobRow.id)
                    .where(
                        JobRow.owner_id == owner_id, JobRow.status == "failed", JobRow.finished_at >= since
                    )
                    .order_by(JobRow.finished_at)
                    .limit(limit)
                ).scalars()
            )

    # -- read --------------------------------------------------------------------------------

    def get_job(self, job_id: uuid.UUID, owner_id: str | None = None) -> Job:
        with self.engine.connect() as conn:
            return self._load_job(conn, job_id, owner_id)

    def list_jobs(
        self,
        *,
        owner_id: str,
        status: JobStatus | None = None,
        pipeline: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        query = select(JobRow.__table__).where(JobRow.owner_id == owner_id)
        if status is not None:
            query = query.where(JobRow.status == status.value)
        if pipeline is not None:
            query = query.where(JobRow.pipeline == pipeline)
        if cursor is not None:
            created, last_id = decode_cursor(cursor)
            query = query.where(
                or_(JobRow.created_at < created, and_(JobRow.created_at == created, JobRow.id < last_id))
            )
        query = query.order_by(JobRow.created_at.desc(), JobRow.id.desc()).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            more = len(rows) > limit
            rows = rows[:limit]
            stages = self._stages_of(conn, [r.id for r in rows])
        jobs = tuple(job_from_row(r, stages.get(r.id, ())) for r in rows)
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        return JobPage(jobs=jobs, next_cursor=next_cursor)

    def _stages_of(self, conn: Any, job_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
        out: dict[uuid.UUID, list[Any]] = {}
        if not job_ids:
            return out
        for row in conn.execute(select(StageRunRow.__table__).where(StageRunRow.job_id.in_(job_ids))):
            out.setdefault(row.job_id, []).append(row)
        return out

    def list_attempts(self, job_id: uuid.UUID) -> tuple[Attempt, ...]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(AttemptRow.__table__).where(AttemptRow.job_id == job_id).order_by(AttemptRow.id)
            ).all()
        return tuple(attempt_from_row(r) for r in rows)

    # -- cancel ------------------------------------------------------------------------------

    def request_cancel(self, job_id: uuid.UUID, owner_id: str | None = None) -> Job:
        """Record a cancellation. A job with no running stage is cancelled at once; a running stage
        sees the request through its heartbeat and stops."""
        now = self.clock()
        with self._tx() as conn:
            self._lock_job(conn, job_id)
            job = self._load_job(conn, job_id, owner_id)
            if job.status.terminal:
                raise Conflict(f"job {job_id} is already {job.status.value}", code="job_finished")
            conn.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.cancel_requested_at.is_(None))
                .values(cancel_requested_at=now, updated_at=now)
            )
            if not any(stage.status is StageStatus.RUNNING for stage in job.stages):
                self._finish_cancelled(conn, job_id)
            return self._load_job(conn, job_id)

    # -- uploads and artifacts ---------------------------------------------------------------

    def create_upload(
        self,
        *,
        upload_id: uuid.UUID,
        owner_id: str,
        filename: str,
        content_type: str | None,
        size: int,
        sha256: str,
        path: str,
    ) -> Upload:
        now = self.clock()
        with self._tx() as conn:
            conn.execute(
                insert(UploadRow).values(
                    id=upload_id,
                    owner_id=owner_id,
                    filename=filename,
                    content_type=content_type,
                    size=size,
                    sha256=sha256,
                    path=path,
                    created_at=now,
                )
            )
        return Upload(
            id=upload_id,
            owner_id=owner_id,
            filename=filename,
            content_type=content_type,
            size=size,
            sha256=sha256,
            path=path,
            created_at=now,
        )

    def get_upload(self, upload_id: uuid.UUID, owner_id: str | None = None) -> Upload:
        query = select(UploadRow.__table__).where(UploadRow.id == upload_id)
        if owner_id is not None:
            query = query.where(UploadRow.owner_id == owner_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFound(f"no upload with id {upload_id}")
        return upload_from_row(row)

    def list_artifacts(self, job_id: uuid.UUID) -> tuple[Artifact, ...]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ArtifactRow.__table__).where(ArtifactRow.job_id == job_id).order_by(ArtifactRow.name)
            ).all()
        return tuple(artifact_from_row(r) for r in rows)

    def get_artifact(self, job_id: uuid.UUID, name: str) -> Artifact:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(ArtifactRow.__table__).where(ArtifactRow.job_id == job_id, ArtifactRow.name == name)
            ).one_or_none()
        if row is None:
            raise NotFound(f"job {job_id} has no artifact {name!r}")
        return artifact_from_row(row)
