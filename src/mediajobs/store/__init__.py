"""Job storage: the only code that writes job state. Tables, migrations and the JobStore.

`JobStore` is composed of one part per concern, all sharing one `Database` (engine, clock,
transactions, what happens after a commit):

    jobs       submit, read, list, cancel, manual retry            (the API's side)
    stages     claim, progress, complete, fail                     (the runner's side)
    leases     renewals, the reaper, worker heartbeats, re-dispatch (recovery)
    outbox     messages written with the state they follow          (the dispatcher's side)
    admission  which ready stages go to the broker now
    events     the event log's reads
    uploads    files received; artifacts: files produced
    users      users, API keys (hashed), usage per period
    periodic   the periodic tasks' runs (once per period) and their queries

Its methods are those of its parts, so callers say `store.claim_stage(...)` and tests can hand any
part's method a stand-in.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from mediajobs.domain import AdmissionPolicy, PipelineRegistry, Refusal
from mediajobs.hooks import Hooks

from .admission import Admission
from .artifacts import ArtifactRecord, Artifacts
from .db import create_db_engine, current_revision, ensure_migrated, head_revision, migrate
from .events import EventReads
from .jobs import JobPage, Jobs
from .leases import Leases, Reaped, WorkerBeat
from .outbox import Outbox, OutboxBatch, OutboxMessage
from .periodic import Periodic
from .stages import Claim, Stages
from .strays import QueueSizes, Strays
from .tx import Clock, Database, EventSink, QueueFor, default_queue_for, utcnow
from .uploads import Uploads
from .users import ApiKey, Caller, Users


class JobStore:
    """Every read and write of job state, from the parts above."""

    def __init__(
        self,
        engine: Engine,
        *,
        pipelines: PipelineRegistry | None = None,
        clock: Clock = utcnow,
        queue_for: QueueFor = default_queue_for,
        event_sink: EventSink | None = None,
        hooks: Hooks | None = None,
        admission: AdmissionPolicy | None = None,
        idempotency_ttl: timedelta = timedelta(hours=24),
    ) -> None:
        self.db = Database(engine, clock=clock, event_sink=event_sink, hooks=hooks)
        self.pipelines = pipelines if pipelines is not None else PipelineRegistry()
        self.admission = Admission(self.db, queue_for, admission)
        self.jobs = Jobs(self.db, self.pipelines, self.admission, idempotency_ttl=idempotency_ttl)
        self.stages = Stages(self.db, self.pipelines, self.admission, queue_for)
        self.leases = Leases(self.db, queue_for, self.admission)
        self.outbox = Outbox(self.db)
        self.events = EventReads(self.db)
        self.uploads = Uploads(self.db)
        self.artifacts = Artifacts(self.db)
        self.users = Users(self.db)
        self.periodic = Periodic(self.db)

        # jobs (API side)
        self.create_job = self.jobs.create_job
        self.get_job = self.jobs.get_job
        self.list_jobs = self.jobs.list_jobs
        self.list_attempts = self.jobs.list_attempts
        self.request_cancel = self.jobs.request_cancel
        self.retry_job = self.jobs.retry_job
        self.create_rerun = self.jobs.create_rerun
        self.failed_since = self.jobs.failed_since
        self.waiting = self.jobs.waiting
        # stages (runner side)
        self.claim_stage = self.stages.claim_stage
        self.report_progress = self.stages.report_progress
        self.complete_stage = self.stages.complete_stage
        self.fail_attempt = self.stages.fail_attempt
        self.cancel_stage = self.stages.cancel_stage
        self.release_lost = self.stages.release_lost
        # recovery
        self.renew_lease = self.leases.renew_lease
        self.reap_expired_leases = self.leases.reap_expired_leases
        self.redispatch_stale = self.leases.redispatch_stale
        self.worker_heartbeat = self.leases.worker_heartbeat
        self.worker_stopped = self.leases.worker_stopped
        self.reap_dead_workers = self.leases.reap_dead_workers
        self.strays = Strays(self.db, queue_for, self.leases)
        self.resend_lost = self.strays.resend_lost
        self.mark_reserved = self.leases.mark_reserved
        # outbox and admission (dispatcher side)
        self.outbox_batch = self.outbox.outbox_batch
        self.mark_sent = self.outbox.mark_sent
        self.unsent_ids = self.outbox.unsent_ids
        self.pending_outbox_count = self.outbox.pending_outbox_count
        self.admit_waiting = self.admission.admit_waiting
        self.admit_owner = self.admission.admit_owner
        self.admit_after = self.admission.admit_after
        self.reroute_aged = self.admission.reroute_aged
        # the event log
        self.job_events = self.events.job_events
        self.owner_events = self.events.owner_events
        self.last_event_id = self.events.last_event_id
        self.latest_event = self.events.latest_event
        # files
        self.create_upload = self.uploads.create_upload
        self.get_upload = self.uploads.get_upload
        self.delete_unused_upload = self.uploads.delete_unused_upload
        self.list_artifacts = self.artifacts.list_artifacts
        self.get_artifact = self.artifacts.get_artifact
        # the database itself
        self.ping = self.db.ping

    def check_ready(self) -> None:
        """Raise unless the database answers (StoreUnavailable) and is migrated (NotMigrated)."""
        self.db.ping()
        ensure_migrated(self.db.engine)

    @property
    def engine(self) -> Engine:
        return self.db.engine

    @property
    def event_sink(self) -> EventSink | None:
        return self.db.event_sink


__all__ = [
    "ApiKey",
    "ArtifactRecord",
    "Caller",
    "Claim",
    "Clock",
    "EventSink",
    "JobPage",
    "JobStore",
    "OutboxBatch",
    "OutboxMessage",
    "QueueFor",
    "QueueSizes",
    "Reaped",
    "Refusal",
    "WorkerBeat",
    "create_db_engine",
    "current_revision",
    "default_queue_for",
    "ensure_migrated",
    "head_revision",
    "migrate",
    "utcnow",
]
