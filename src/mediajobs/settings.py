"""Configuration: one Settings class, read from the environment and an optional `.env`.

Build it with `get_settings()` and pass it down; nothing imports a module-level settings object.

With no database or broker configured, mediajobs runs embedded: SQLite and kombu's filesystem
transport under `MEDIAJOBS_DATA_DIR`, so one machine needs no servers.
"""

from __future__ import annotations

import json
import math
import socket
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mediajobs.domain.retry import STANDARD_WEBHOOK_DELAYS, RetryPolicy
from mediajobs.domain.tenancy import DEFAULT_LIMITS, Tier, TierLimits

DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "mediajobs"

DEFAULT_PAGE_EXTRACTORS = (
    "html5",  # <video> and <audio> elements of any page
    "youtube",
    "vimeo",
    "dailymotion",
    "soundcloud",
    "bandcamp",
    "archive\\.org",
    "twitch:vod",
    "tedtalk",
    "peertube",
    "generic",  # a page with a direct media link, Open Graph video, JSON-LD, embeds of the above
)

LogLevel = Literal["debug", "info", "warning", "error", "critical"]


class Settings(BaseSettings):
    """Every knob of a mediajobs process (API, worker, beat, CLI)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, validation_alias="MEDIAJOBS_DATA_DIR")
    database_url: str | None = Field(default=None, validation_alias="MEDIAJOBS_DATABASE_URL")
    storage_dir: Path | None = Field(default=None, validation_alias="MEDIAJOBS_STORAGE_DIR")
    # Local scratch folders of running stages (ffmpeg and Whisper work here); emptied after each attempt.
    scratch_dir: Path | None = Field(default=None, validation_alias="MEDIAJOBS_WORK_DIR")

    broker_url: str | None = Field(
        default=None, validation_alias=AliasChoices("CELERY_BROKER_URL", "REDIS_URL")
    )
    result_backend: str | None = Field(default=None, validation_alias="CELERY_RESULT_BACKEND")
    worker_concurrency: Annotated[int, Field(ge=1, le=256)] = Field(
        default=4, validation_alias="CELERY_WORKER_CONCURRENCY"
    )
    log_level: LogLevel = Field(default="info", validation_alias="CELERY_LOG_LEVEL")
    worker_max_tasks_per_child: Annotated[int, Field(ge=1)] = Field(
        default=200, validation_alias="CELERY_WORKER_MAX_TASKS_PER_CHILD"
    )
    # Log lines as JSON objects (`json`), or readable text (`text`); `auto`: text on a terminal, else JSON.
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", validation_alias="MEDIAJOBS_LOG_FORMAT"
    )
    # Prometheus: GET /metrics on the API is open unless this is set; then it wants `Bearer <token>`.
    metrics_token: str | None = Field(default=None, validation_alias="MEDIAJOBS_METRICS_TOKEN")
    # A worker serves its metrics (all its pool processes') at http://<host>:<port>/metrics; off unless set.
    worker_metrics_port: Annotated[int, Field(ge=1, le=65535)] | None = Field(
        default=None, validation_alias="MEDIAJOBS_WORKER_METRICS_PORT"
    )
    worker_metrics_host: str = Field(default="127.0.0.1", validation_alias="MEDIAJOBS_WORKER_METRICS_HOST")
    # The database and broker reads behind the state gauges are reused for this long between scrapes.
    metrics_cache_seconds: Annotated[float, Field(ge=0)] = Field(
        default=5.0, validation_alias="MEDIAJOBS_METRICS_CACHE_SECONDS"
    )
    # Celery's own monitoring events (task-sent, -received, -started, -succeeded...), for Flower or
    # `celery events`. Off: job state, attempts and progress live in the database and our own event
    # log, and the events cost every task a few publishes (9% of a no-op worker's time, py-spy).
    task_events: bool = Field(default=False, validation_alias="MEDIAJOBS_CELERY_TASK_EVENTS")
    # Redis (and other key-value brokers) redeliver an unacked message after this many seconds.
    # Leases, not this timeout, decide when work is re-run; it only bounds how long Redis holds on.
    broker_visibility_timeout: Annotated[int, Field(ge=1)] = Field(
        default=3900, validation_alias="MEDIAJOBS_BROKER_VISIBILITY_TIMEOUT"
    )
    # Prefix every queue name (isolates tenants or test runs sharing one broker).
    queue_prefix: str = Field(default="", validation_alias="MEDIAJOBS_QUEUE_PREFIX")

    stage_hard_time_limit: Annotated[int, Field(ge=1)] = Field(
        default=3600, validation_alias="MEDIAJOBS_STAGE_HARD_TIME_LIMIT"
    )
    stage_soft_time_limit: Annotated[int, Field(ge=1)] = Field(
        default=3300, validation_alias="MEDIAJOBS_STAGE_SOFT_TIME_LIMIT"
    )

    # Per-stage hard time limits in seconds, e.g. {"transcribe": 7200}; the soft limit is 1/12 earlier.
    stage_time_limits: dict[str, Annotated[int, Field(ge=2)]] = Field(
        default_factory=dict, validation_alias="MEDIAJOBS_STAGE_TIME_LIMITS"
    )

    lease_seconds: Annotated[float, Field(gt=0)] = Field(
        default=30.0, validation_alias="MEDIAJOBS_LEASE_SECONDS"
    )
    heartbeat_seconds: Annotated[float, Field(gt=0)] = Field(
        default=1.0, validation_alias="MEDIAJOBS_HEARTBEAT_SECONDS"
    )
    maintenance_interval: Annotated[float, Field(gt=0)] = Field(
        default=2.0, validation_alias="MEDIAJOBS_MAINTENANCE_INTERVAL"
    )
    # A stopping worker (SIGTERM) takes no new message and gives its running stages this long to
    # finish; those still running then are handed back (queued again at once for another worker).
    # A container's or unit's stop timeout must be longer (docs/operations.md: rolling upgrades).
    drain_seconds: Annotated[float, Field(ge=0)] = Field(
        default=20.0, validation_alias="MEDIAJOBS_DRAIN_SECONDS"
    )

    max_retries: Annotated[int, Field(ge=0)] = Field(default=3, validation_alias="MEDIAJOBS_MAX_RETRIES")
    retry_base_seconds: Annotated[float, Field(ge=0)] = Field(
        default=2.0, validation_alias="MEDIAJOBS_RETRY_BASE_SECONDS"
    )
    retry_cap_seconds: Annotated[float, Field(ge=0)] = Field(
        default=600.0, validation_alias="MEDIAJOBS_RETRY_CAP_SECONDS"
    )

    # Per-pipeline retry settings, e.g. {"transcribe": {"max_retries": 5, "base": 1, "cap": 60}}.
    retry_policies: dict[str, dict[str, float]] = Field(
        default_factory=dict, validation_alias="MEDIAJOBS_RETRY_POLICIES"
    )
    # A queued stage whose message has not been picked up for this long is published again (a message
    # can be lost with a broker or worker in ways no acknowledgement catches); duplicates are harmless.
    redispatch_after_seconds: Annotated[float, Field(gt=0)] = Field(
        default=900.0, validation_alias="MEDIAJOBS_REDISPATCH_AFTER"
    )
    idempotency_ttl_seconds: Annotated[float, Field(gt=0)] = Field(
        default=86400.0, validation_alias="MEDIAJOBS_IDEMPOTENCY_TTL"
    )

    download_max_bytes: Annotated[int, Field(ge=1)] = Field(
        default=2 * 1024**3, validation_alias="MEDIAJOBS_DOWNLOAD_MAX_BYTES"
    )
    # URL sources may only reach public addresses unless this is set (see netguard.py).
    allow_private_sources: bool = Field(default=False, validation_alias="MEDIAJOBS_ALLOW_PRIVATE_SOURCES")
    download_timeout_seconds: Annotated[float, Field(gt=0)] = Field(
        default=30.0, validation_alias="MEDIAJOBS_DOWNLOAD_TIMEOUT"
    )
    # A download's minimum pace (stages/ingest.py): after the grace seconds, this many bytes for every
    # second past them, or it fails `download_too_slow` (0: no minimum; the idle timeout still holds).
    download_min_rate: Annotated[int, Field(ge=0)] = Field(
        default=16 * 1024, validation_alias="MEDIAJOBS_DOWNLOAD_MIN_RATE"
    )
    download_grace_seconds: Annotated[float, Field(ge=0)] = Field(
        default=10.0, validation_alias="MEDIAJOBS_DOWNLOAD_GRACE_SECONDS"
    )
    # A URL source that is a web page, not media, is read with yt-dlp by these of its extractors
    # (regular expressions over yt-dlp's extractor names, case-insensitive; `generic` is tried last).
    page_extractors: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PAGE_EXTRACTORS), validation_alias="MEDIAJOBS_PAGE_EXTRACTORS"
    )
    # Seconds between the attempts of a webhook (after the first, at once), each stretched by up to 20%
    # at random: the Standard Webhooks schedule, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts).
    webhook_retry_schedule: list[Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: list(STANDARD_WEBHOOK_DELAYS),
        max_length=50,
        validation_alias="MEDIAJOBS_WEBHOOK_RETRY_SCHEDULE",
    )
    # Folders a video job may publish into (`publish_dir` option), e.g. ["/srv/videos"]; none by default.
    publish_dirs: list[Path] = Field(default_factory=list, validation_alias="MEDIAJOBS_PUBLISH_DIRS")
    upload_max_bytes: Annotated[int, Field(ge=1)] = Field(
        default=2 * 1024**3, validation_alias="MEDIAJOBS_UPLOAD_MAX_BYTES"
    )
    # A request body that sends nothing for this long is answered 408 (its partial upload removed).
    body_idle_timeout_seconds: Annotated[float, Field(gt=0)] = Field(
        default=30.0, validation_alias="MEDIAJOBS_BODY_IDLE_TIMEOUT_SECONDS"
    )
    # Uploads (multipart bodies) one user may be sending to one API process at once; beyond: 429.
    max_concurrent_uploads: Annotated[int, Field(ge=1)] = Field(
        default=4, validation_alias="MEDIAJOBS_MAX_CONCURRENT_UPLOADS"
    )
    # The request line and headers of one request, together; a longer head is answered 400 and its
    # connection closed before more of it is read (uvicorn's h11 parser: see launch.py).
    max_request_head_bytes: Annotated[int, Field(ge=1024)] = Field(
        default=64 * 1024, validation_alias="MEDIAJOBS_MAX_REQUEST_HEAD_BYTES"
    )
    # Origins (`https://app.example.com`) whose pages may open a job's WebSocket with the key cookie,
    # besides the API's own (the one its Host header names). Bearer keys and `?access_token=` need none.
    allowed_origins: list[str] = Field(default_factory=list, validation_alias="MEDIAJOBS_ALLOWED_ORIGINS")

    # Limits on media, checked from ffprobe before converting and enforced again while decoding.
    max_media_seconds: Annotated[float, Field(gt=0)] = Field(
        default=4 * 3600.0, validation_alias="MEDIAJOBS_MAX_MEDIA_SECONDS"
    )
    # Size of the decoded audio (16 kHz mono 16-bit WAV: 115 MB per hour) that later stages read.
    max_decoded_bytes: Annotated[int, Field(ge=1024)] = Field(
        default=1024**3, validation_alias="MEDIAJOBS_MAX_DECODED_BYTES"
    )
    # Address-space caps (bytes; 0: none): a hostile file kills its own ffmpeg or engine, not the host.
    media_memory_limit: Annotated[int, Field(ge=0)] = Field(
        default=2 * 1024**3, validation_alias="MEDIAJOBS_MEDIA_MEMORY_LIMIT"
    )
    # Default: 2 GiB plus 1 MiB per second of the longest media (Whisper's features of the whole audio
    # take about 845 kB per second), so the longest accepted file fits and a longer one cannot.
    engine_memory_limit: Annotated[int, Field(ge=0)] | None = Field(
        default=None, validation_alias="MEDIAJOBS_ENGINE_MEMORY_LIMIT"
    )

    whisper_model: str | None = Field(default=None, validation_alias="MEDIAJOBS_WHISPER_MODEL")
    # Extra CTranslate2 Whisper model folders a job's `model` option may name: {"name": "/path/to/folder"}.
    whisper_models: dict[str, str] = Field(default_factory=dict, validation_alias="MEDIAJOBS_WHISPER_MODELS")
    # Where the models run: `cuda` for a GPU worker pool (then e.g. MEDIAJOBS_WHISPER_COMPUTE_TYPE=float16),
    # `auto` lets CTranslate2 pick a GPU when one is visible.
    whisper_device: Literal["cpu", "cuda", "auto"] = Field(
        default="cpu", validation_alias="MEDIAJOBS_WHISPER_DEVICE"
    )
    whisper_compute_type: str = Field(default="int8", validation_alias="MEDIAJOBS_WHISPER_COMPUTE_TYPE")
    whisper_cpu_threads: Annotated[int, Field(ge=0)] = Field(
        default=0, validation_alias="MEDIAJOBS_WHISPER_CPU_THREADS"
    )

    # Long media in parallel (stages/split.py): audio longer than the threshold (0: never) is cut at
    # silences into chunks of about `chunk_seconds`, transcribed as separate stage runs and merged.
    chunk_threshold_seconds: Annotated[float, Field(ge=0)] = Field(
        default=300.0, validation_alias="MEDIAJOBS_CHUNK_THRESHOLD_SECONDS"
    )
    # Each chunk starts Whisper afresh: shorter chunks spread wider but transcribe a little worse at
    # their edges (2.5 minutes: WER +0.01 against the whole file on the tests' espeak-ng speech).
    chunk_seconds: Annotated[float, Field(ge=10)] = Field(
        default=150.0, validation_alias="MEDIAJOBS_CHUNK_SECONDS"
    )
    chunk_overlap_seconds: Annotated[float, Field(ge=0, le=5)] = Field(
        default=0.5, validation_alias="MEDIAJOBS_CHUNK_OVERLAP_SECONDS"
    )
    # A stage's time limits grow with the job's media: at least this many seconds per media second
    # (known once `normalize` measured it), so a 3-hour file is not held to a limit sized for minutes.
    stage_seconds_per_media_second: Annotated[float, Field(ge=0)] = Field(
        default=2.0, validation_alias="MEDIAJOBS_STAGE_SECONDS_PER_MEDIA_SECOND"
    )

    # Per-tier limits over the defaults (domain/tenancy.py), e.g.
    # {"free": {"concurrency": 4, "monthly_media_seconds": 7200}, "enterprise": {"monthly_jobs": null}}.
    # Keys: concurrency, monthly_jobs, monthly_media_seconds, monthly_characters, submits_per_minute,
    # stored_bytes (what a user keeps stored at once: uploads, media, artifacts).
    tier_limits_override: dict[str, dict[str, float | None]] = Field(
        default_factory=dict, validation_alias="MEDIAJOBS_TIER_LIMITS"
    )
    # Batch-lane work that waited longer than this runs as standard (it is never starved for good).
    batch_aging_seconds: Annotated[float, Field(gt=0)] = Field(
        default=3600.0, validation_alias="MEDIAJOBS_BATCH_AGING"
    )
    # Where the submit rate limiter keeps its counters: the broker's Redis when it is Redis, else memory.
    rate_limit_storage: str | None = Field(default=None, validation_alias="MEDIAJOBS_RATE_LIMIT_STORAGE")
    # How long an API process trusts a key it checked (0: ask the database on every request). A revoked
    # key or a disabled user is refused within this many seconds; quotas stay exact (the submit's own
    # usage charge checks them).
    key_cache_seconds: Annotated[float, Field(ge=0, le=300)] = Field(
        default=5.0, validation_alias="MEDIAJOBS_KEY_CACHE_SECONDS"
    )

    # A dashboard login (/dashboard, a session cookie) lasts this long; a revoked key ends it sooner.
    dashboard_session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = Field(
        default=12.0, validation_alias="MEDIAJOBS_DASHBOARD_SESSION_HOURS"
    )

    # The OpenAI-compatible routes (/v1/audio/...) hold the connection this long for the job to end;
    # past it they answer 202 with the job's links (the job keeps running). `Prefer: respond-async`
    # asks for the 202 at once.
    sync_wait_seconds: Annotated[float, Field(ge=0, le=3600)] = Field(
        default=300.0, validation_alias="MEDIAJOBS_SYNC_WAIT_SECONDS"
    )

    # The daily cleanup removes the media and artifacts of jobs finished this long ago (rows stay).
    retention_days: Annotated[float, Field(gt=0)] = Field(
        default=7.0, validation_alias="MEDIAJOBS_RETENTION_DAYS"
    )
    # ... and uploads that no job uses, this long after they were uploaded.
    orphan_upload_grace_seconds: Annotated[float, Field(gt=0)] = Field(
        default=86400.0, validation_alias="MEDIAJOBS_ORPHAN_UPLOAD_GRACE"
    )

    # The measurement pipelines `noop` and `noop3` (no media work; for load tests and benchmarks).
    noop_pipelines: bool = Field(default=False, validation_alias="MEDIAJOBS_NOOP_PIPELINES")
    # Modules of the deployment's own, each with a `register(registry)` function (docs/plugins.md).
    plugins: str = Field(default="", validation_alias="MEDIAJOBS_PLUGINS")
    # Where uploads, media, checkpoints and artifacts live: `local` (MEDIAJOBS_STORAGE_DIR, a folder
    # every host sees) or `s3` (an S3-compatible bucket, the MEDIAJOBS_S3_* settings; docs/storage.md).
    storage_backend: str = Field(default="local", validation_alias="MEDIAJOBS_STORAGE_BACKEND")
    # The object store's URL (MinIO, Ceph, moto...); unset: AWS S3 of `s3_region`.
    s3_endpoint_url: str | None = Field(default=None, validation_alias="MEDIAJOBS_S3_ENDPOINT_URL")
    s3_bucket: str | None = Field(default=None, validation_alias="MEDIAJOBS_S3_BUCKET")
    s3_region: str = Field(default="us-east-1", validation_alias="MEDIAJOBS_S3_REGION")
    # Unset: boto3's own credential chain (AWS_* variables, a profile, an instance or pod role).
    s3_access_key_id: str | None = Field(default=None, validation_alias="MEDIAJOBS_S3_ACCESS_KEY_ID")
    s3_secret_access_key: str | None = Field(default=None, validation_alias="MEDIAJOBS_S3_SECRET_ACCESS_KEY")
    # Every key is stored under this prefix in the bucket ("" or ending with "/": `mediajobs/`).
    s3_prefix: Annotated[str, Field(pattern=r"^([A-Za-z0-9._-]+/)*$")] = Field(
        default="", validation_alias="MEDIAJOBS_S3_PREFIX"
    )
    # Artifact downloads: `presigned` redirects the client to a presigned URL of the object store
    # (which clients must reach); `proxy` streams the bytes through the API.
    s3_download_mode: Literal["presigned", "proxy"] = Field(
        default="presigned", validation_alias="MEDIAJOBS_S3_DOWNLOAD_MODE"
    )
    s3_presign_seconds: Annotated[int, Field(ge=1, le=604800)] = Field(
        default=3600, validation_alias="MEDIAJOBS_S3_PRESIGN_SECONDS"
    )
    # Multipart upload part size (S3's minimum is 5 MiB); a smaller object is one PUT.
    s3_part_size: Annotated[int, Field(ge=5 * 1024 * 1024, le=5 * 1024 * 1024 * 1024)] = Field(
        default=8 * 1024 * 1024, validation_alias="MEDIAJOBS_S3_PART_SIZE"
    )
    s3_connect_timeout: Annotated[float, Field(gt=0)] = Field(
        default=5.0, validation_alias="MEDIAJOBS_S3_CONNECT_TIMEOUT"
    )
    s3_read_timeout: Annotated[float, Field(gt=0)] = Field(
        default=30.0, validation_alias="MEDIAJOBS_S3_READ_TIMEOUT"
    )

    engine_isolation: Literal["process", "inline"] = Field(
        default="process", validation_alias="MEDIAJOBS_ENGINE_ISOLATION"
    )

    worker_name: str = Field(default_factory=socket.gethostname, validation_alias="MEDIAJOBS_WORKER_NAME")

    @model_validator(mode="after")
    def _soft_below_hard(self) -> Settings:
        if self.stage_soft_time_limit >= self.stage_hard_time_limit:
            raise ValueError("MEDIAJOBS_STAGE_SOFT_TIME_LIMIT must be below MEDIAJOBS_STAGE_HARD_TIME_LIMIT")
        return self

    def to_env(self) -> dict[str, str]:
        """These settings as environment variables, so a child process reads the same ones."""
        env: dict[str, str] = {}
        for name, info in type(self).model_fields.items():
            alias = info.validation_alias
            key = alias.choices[0] if isinstance(alias, AliasChoices) else alias
            value = getattr(self, name)
            if isinstance(key, str) and value is not None:
                env[key] = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
        return env

    def time_limits_for(
        self, stage: str, media_seconds: float | None = None, declared: int | None = None
    ) -> tuple[int, int]:
        """(soft, hard) time limit in seconds of one stage: its own from `stage_time_limits` as given,
        else the hard limit its pipeline `declared`, else the defaults; the last two raised for long
        media to `stage_seconds_per_media_second` per second of the job's media."""
        hard = self.stage_time_limits.get(stage)
        if hard is not None:
            return hard - max(1, hard // 12), hard
        if declared is not None:
            scaled = max(declared, math.ceil((media_seconds or 0.0) * self.stage_seconds_per_media_second))
            return scaled - max(1, scaled // 12), scaled
        scaled = math.ceil((media_seconds or 0.0) * self.stage_seconds_per_media_second)
        if scaled <= self.stage_hard_time_limit:
            return self.stage_soft_time_limit, self.stage_hard_time_limit
        return scaled - max(1, scaled // 12), scaled

    def tier_limits(self) -> dict[Tier, TierLimits]:
        """The limits of every tier: the defaults with MEDIAJOBS_TIER_LIMITS on top."""
        limits = dict(DEFAULT_LIMITS)
        for name, override in self.tier_limits_override.items():
            tier = Tier(name)
            values = {
                "concurrency": override.get("concurrency", limits[tier].concurrency),
                "monthly_media_seconds": override.get(
                    "monthly_media_seconds", limits[tier].monthly_media_seconds
                ),
                "monthly_jobs": override.get("monthly_jobs", limits[tier].monthly_jobs),
                "submits_per_minute": override.get("submits_per_minute", limits[tier].submits_per_minute),
                "stored_bytes": override.get("stored_bytes", limits[tier].stored_bytes),
                "monthly_characters": override.get("monthly_characters", limits[tier].monthly_characters),
            }
            limits[tier] = TierLimits(
                concurrency=int(values["concurrency"] or 1),
                monthly_media_seconds=values["monthly_media_seconds"],
                monthly_jobs=None if values["monthly_jobs"] is None else int(values["monthly_jobs"]),
                submits_per_minute=None
                if values["submits_per_minute"] is None
                else int(values["submits_per_minute"]),
                stored_bytes=None if values["stored_bytes"] is None else int(values["stored_bytes"]),
                monthly_characters=None
                if values["monthly_characters"] is None
                else int(values["monthly_characters"]),
            )
        return limits

    @property
    def resolved_rate_limit_storage(self) -> str:
        if self.rate_limit_storage:
            return self.rate_limit_storage
        if self.broker_url and self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return "memory://"

    @property
    def api_key_file(self) -> Path:
        """Where the embedded default keeps the local admin's API key (mode 0600)."""
        return self.data_dir / "api-key"

    def retry_policy_for(self, pipeline: str, declared: RetryPolicy | None = None) -> RetryPolicy:
        """The retry policy of a pipeline's stages: MEDIAJOBS_RETRY_POLICIES's entry for it over what
        the pipeline `declared`, over the deployment's MEDIAJOBS_MAX_RETRIES / RETRY_* settings."""
        base = declared or RetryPolicy(
            max_retries=self.max_retries, base=self.retry_base_seconds, cap=self.retry_cap_seconds
        )
        override = self.retry_policies.get(pipeline, {})
        return RetryPolicy(
            max_retries=int(override.get("max_retries", base.max_retries)),
            base=float(override.get("base", base.base)),
            cap=float(override.get("cap", base.cap)),
        )

    # -- derived values -------------------------------------------------------------------------

    @property
    def worker_silence(self) -> timedelta:
        """How long a worker may go without a heartbeat and still count as live (a lease period: it
        beats several times in one)."""
        return timedelta(seconds=self.lease_seconds)

    @property
    def plugin_modules(self) -> list[str]:
        """MEDIAJOBS_PLUGINS as module names (comma separated, blanks ignored)."""
        return [name.strip() for name in self.plugins.split(",") if name.strip()]

    @property
    def embedded(self) -> bool:
        """True when no broker is configured: the worker uses the server-less filesystem broker."""
        return self.broker_url is None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'mediajobs.sqlite3'}"

    @property
    def resolved_storage_dir(self) -> Path:
        return self.storage_dir if self.storage_dir is not None else self.data_dir / "storage"

    @property
    def work_dir(self) -> Path:
        return self.scratch_dir if self.scratch_dir is not None else self.data_dir / "work"

    @property
    def engine_memory_bytes(self) -> int:
        """The speech-to-text engine process's address-space cap (0: none)."""
        if self.engine_memory_limit is not None:
            return self.engine_memory_limit
        return 2 * 1024**3 + int(self.max_media_seconds) * 1024**2

    @property
    def broker_dir(self) -> Path:
        """Folder of the embedded filesystem broker."""
        return self.data_dir / "broker"

    @property
    def resolved_broker_url(self) -> str:
        # kombu warns "No hostname was supplied" at every connection to a URL without a host
        return self.broker_url if self.broker_url is not None else "filesystem://localhost/"


def get_settings(**overrides: object) -> Settings:
    """Read settings from the environment (and `.env`), with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
