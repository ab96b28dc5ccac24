"""SQLAlchemy tables: the schema Alembic migrates and the store queries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JsonType = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JsonType, uuid.UUID: Uuid}


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(16), default="free", server_default="free")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # the `whsec_` secret outbound messages to this user are signed with (signing.py); made on first need
    webhook_secret: Mapped[str | None] = mapped_column(String(64))
    # the secret before the last rotation, which still signs too until its window ends (store/users.py)
    previous_webhook_secret: Mapped[str | None] = mapped_column(String(64))
    webhook_secret_rotated_at: Mapped[datetime | None]
    # the key this user's event ids are shown under (progress/cursor.py); made on first need, never shown
    event_key: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("name", name="uq_users_name"),)


class ApiKeyRow(Base):
    """An API key: only its hash is stored; `id` is the public part shown in the key (`mj_<id>_...`)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_api_keys_user", "user_id"),)


class UsageRow(Base):
    """What one user used in one period (a calendar month, UTC); a new month is a new row."""

    __tablename__ = "usage"

    user_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    jobs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    media_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")  # settled
    reserved_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")  # running jobs'
    characters: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # text read
    updated_at: Mapped[datetime]


class TaskRunRow(Base):
    """One run of a periodic task for one period: the primary key makes a second runner a no-op."""

    __tablename__ = "task_runs"

    task: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(32), primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None]


class BatchRow(Base):
    """Many jobs under one handle; its status is written when its last item ends."""

    __tablename__ = "batches"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"))
    name: Mapped[str | None] = mapped_column(String(200))
    items: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))  # a BatchStatus value
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    cancel_requested_at: Mapped[datetime | None]
    callback_url: Mapped[str | None] = mapped_column(Text)  # its end is announced there (a webhook)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_batches_owner_created", "owner_id", "created_at", "id"),
        UniqueConstraint("owner_id", "idempotency_key", name="uq_batches_owner_idempotency_key"),
    )


class JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"))
    pipeline: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    current_stage: Mapped[str | None] = mapped_column(String(64))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_retryable: Mapped[bool | None]  # None: failed before the column existed (taken as retryable)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    manual_retries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lane: Mapped[str] = mapped_column(String(16), default="standard", server_default="standard")
    event_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    source_name: Mapped[str | None] = mapped_column(String(255))
    media_seconds: Mapped[float | None] = mapped_column(Float)  # the media's length, charged once known
    charged_at: Mapped[datetime | None]  # when its media was measured and reserved (metering.py)
    reserved_seconds: Mapped[float | None] = mapped_column(Float)  # held until the job ends, then settled
    # bytes of the files its stages and artifacts stored (charged as each is stored, 0 once removed)
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    upload_id: Mapped[uuid.UUID | None]  # the upload an `upload://` source names
    rerun_of: Mapped[uuid.UUID | None]  # the job whose finished stages a re-run reuses
    batch_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    batch_index: Mapped[int | None] = mapped_column(Integer)  # its place among the batch's items
    item_name: Mapped[str | None] = mapped_column(String(255))  # what the batch calls it
    callback_url: Mapped[str | None] = mapped_column(Text)  # its end is announced there (a webhook)
    cancel_requested_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_jobs_owner_created", "owner_id", "created_at", "id"),
        Index(  # admission: a user's open jobs, oldest first (migration 0008)
            "ix_jobs_open_owner",
            "owner_id",
            "created_at",
            "id",
            postgresql_where=text("status IN ('queued', 'running')"),
            sqlite_where=text("status IN ('queued', 'running')"),
        ),
        Index("ix_jobs_status", "status"),
        Index("ix_jobs_batch", "batch_id", "batch_index"),
        Index("ix_jobs_upload_id", "upload_id"),
        UniqueConstraint("owner_id", "idempotency_key", name="uq_jobs_owner_idempotency_key"),
    )


class StageRunRow(Base):
    __tablename__ = "stage_runs"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    run: Mapped[str] = mapped_column(String(64), default="", server_default="")
    parent: Mapped[str | None] = mapped_column(String(64))  # fan-out children: the stage that made them
    child_index: Mapped[int | None] = mapped_column(Integer)
    params: Mapped[dict[str, Any] | None]  # what the parent handed a fan-out child
    # The worker that took this stage's message from the broker and has not claimed it yet: if that
    # worker dies, the message is sent again at once (see store/leases.py).
    reserved_by: Mapped[str | None] = mapped_column(String(200))
    reserved_at: Mapped[datetime | None]
    routed_lane: Mapped[str | None] = mapped_column(String(16))  # the lane its current message went to
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    budget_start: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    output: Mapped[dict[str, Any] | None]
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_retryable: Mapped[bool | None]
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    fence: Mapped[int] = mapped_column(BigInteger, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    available_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_stage_runs_status_lease", "status", "lease_expires_at"),)


class AttemptRow(Base):
    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(200))
    fence: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_attempts_job", "job_id", "id"),)


class OutboxRow(Base):
    """Messages to publish to the broker, written in the same transaction as the state they follow."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(128))
    fence: Mapped[int] = mapped_column(BigInteger)
    available_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    publish_attempts: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_outbox_unsent", "sent_at", "available_at"),)


class UploadRow(Base):
    __tablename__ = "uploads"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_uploads_owner", "owner_id"),)  # a user's stored bytes (migration 0017)


class ArtifactRow(Base):
    __tablename__ = "artifacts"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class WorkerRow(Base):
    """A live worker process's heartbeat, written by its main process every few seconds.

    When the heartbeats stop, the stage messages it had taken from the broker without claiming them
    (`stage_runs.reserved_by`) are sent again at once, instead of after the broker's visibility timeout.
    """

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    last_seen: Mapped[datetime]
    queues: Mapped[list[str]] = mapped_column(JsonType, default=list, server_default="[]")  # it consumes
    concurrency: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # its pool's slots


class HookDeliveryRow(Base):
    """One delivery a durable hook (a webhook) owes, written in the transaction that ended its job (or
    batch): its own outbox (`sent_at`: its message went to the `hooks` queue), the worker that took
    that message (`reserved_by`), its sender's lease (`locked_until`), then its outcome. The message
    itself (`message_id`, `body`) is the same on every attempt."""

    __tablename__ = "hook_deliveries"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    hook: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    batch_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))  # job.finished | batch.finished
    destination: Mapped[str] = mapped_column(Text)  # a webhook's URL
    message_id: Mapped[str] = mapped_column(String(64))  # the `webhook-id`
    payload: Mapped[dict[str, Any]]
    body: Mapped[str | None] = mapped_column(Text)  # the message, kept from its first attempt on
    status: Mapped[str] = mapped_column(String(16))  # a DeliveryStatus value
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    available_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    reserved_by: Mapped[str | None] = mapped_column(String(200))
    reserved_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    redelivery_of: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    created_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_hook_deliveries_due", "status", "available_at"),
        Index("ix_hook_deliveries_job", "job_id"),
        Index("ix_hook_deliveries_batch", "batch_id"),
        Index("ix_hook_deliveries_owner_created", "owner_id", "created_at", "id"),
    )


class HookAttemptRow(Base):
    """One try at sending a delivery: opened when a sender takes it, closed with its answer."""

    __tablename__ = "hook_attempts"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    delivery_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), ForeignKey("hook_deliveries.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # a DeliveryOutcome value
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_hook_attempts_delivery", "delivery_id", "number"),)


class DisabledEndpointRow(Base):
    """A destination whose receiver answered 410 Gone: nothing more goes there for this user."""

    __tablename__ = "disabled_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id", ondelete="CASCADE"))
    hook: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(Text)
    destination_key: Mapped[str] = mapped_column(String(64))  # sha256 of destination
    disabled_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    delivery_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))

    __table_args__ = (
        UniqueConstraint("owner_id", "hook", "destination_key", name="uq_disabled_endpoints_destination"),
    )


class JobEventRow(Base):
    """A bounded log of each job's events, for replay (`Last-Event-ID`) and database-only following."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    owner_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str | None] = mapped_column(String(64))
    stage_status: Mapped[str | None] = mapped_column(String(16))
    stage_percent: Mapped[float | None] = mapped_column(Float)
    job_percent: Mapped[float] = mapped_column(Float)
    file: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("job_id", "seq", name="uq_job_events_job_seq"),
        Index("ix_job_events_owner_id", "owner_id", "id"),
    )


class LanePauseRow(Base):
    """A paused lane: admission admits no stage of a job in it that has not started (dashboard)."""

    __tablename__ = "lane_pauses"

    lane: Mapped[str] = mapped_column(String(16), primary_key=True)
    paused_at: Mapped[datetime]
    paused_by: Mapped[str | None] = mapped_column(String(64))  # the user who paused it


class DashboardSessionRow(Base):
    """A dashboard login: the session token's SHA-256 (the cookie holds the token), its CSRF token."""

    __tablename__ = "dashboard_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id", ondelete="CASCADE"))
    key_id: Mapped[str] = mapped_column(String(32))  # the key it logged in with: revoked, it ends
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]

    __table_args__ = (Index("ix_dashboard_sessions_expires", "expires_at"),)


metadata = Base.metadata
