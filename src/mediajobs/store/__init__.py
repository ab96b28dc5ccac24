"""Job storage: the only code that writes job state. Tables, migrations and the JobStore.

`JobStore` is the facade: one part per concern, all sharing one `Database` (engine, clock,
transactions, what each commit leaves to do), and callers name the part they use
(`store.stages.claim_stage(...)`):

    jobs        submit, read, list, cancel, manual retry            (the API's side)
    stages      claim, progress, complete, fail                     (the runner's side)
    leases      renewals, the reaper, worker heartbeats, re-dispatch (recovery)
    strays      messages the broker lost, found by counting          (recovery)
    outbox      messages written with the state they follow          (the dispatcher's side)
    admission   which ready stages go to the broker now
    queues      who consumes which queue, what waits in each, why a job waits, what runs where
    stats       the state at a glance: open jobs, longest waits, backlogs (Prometheus gauges)
    deliveries  what durable hooks (webhooks) owe, written with a job's (or batch's) end, each attempt
    endpoints   destinations a receiver turned off (410 Gone), per user
    pauses      lanes an operator paused: admission holds their jobs that have not started
    browse      the dashboard's reads: jobs by filters, counts per status and lane, throughput
    sessions    dashboard logins (a session per API-key login, with its CSRF token)
    batches     many jobs under one handle, written at once, ended with their last item
    events      the event log's reads
    uploads     files received; artifacts: files produced
    stored      a user's stored bytes (charged per file, checked against the tier), owners' DELETEs
    users       users, API keys (hashed), usage per period
    periodic    the periodic tasks' runs (once per period) and their queries
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from mediajobs.domain import AdmissionPolicy, PipelineRegistry, Refusal
from mediajobs.domain.deliveries import Delivery
from mediajobs.hooks import Hooks

from .admission import Admission
from .artifacts import ArtifactRecord, Artifacts
from .batches import Batches, BatchItem
from .browse import Browse
from .claims import Claim
from .db import create_db_engine, current_revision, ensure_migrated, head_revision, migrate
from .deliveries import Deliveries, Settlement
from .endpoints import Endpoints
from .events import EventReads
from .jobs import JobPage, Jobs
from .leases import Leases, Reaped, WorkerBeat
from .metering import Quotas
from .outbox import Outbox, OutboxBatch, OutboxMessage
from .pauses import LanePause, Pauses
from .periodic import Periodic
from .queues import QueueBacklog, Queues, RunningStage, Waiting, WorkerInfo
from .sessions import Session, Sessions
from .stages import Follow, Stages
from .stats import Snapshot, Stats
from .stored import StoredBytes
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
        quotas: Quotas | None = None,
    ) -> None:
        self.db = Database(engine, clock=clock, event_sink=event_sink, hooks=hooks)
        self.pipelines = pipelines if pipelines is not None else PipelineRegistry()
        self.admission = Admission(self.db, queue_for, admission)
        self.jobs = Jobs(self.db, self.pipelines, self.admission, idempotency_ttl=idempotency_ttl)
        self.stages = Stages(self.db, self.pipelines, self.admission, queue_for, quotas)
        self.leases = Leases(self.db, queue_for, self.admission)
        self.outbox = Outbox(self.db)
        self.events = EventReads(self.db)
        self.uploads = Uploads(self.db)
        self.artifacts = Artifacts(self.db)
        self.users = Users(self.db)
        self.periodic = Periodic(self.db)
        self.stored = StoredBytes(self.db)

        self.strays = Strays(self.db, queue_for, self.leases)
        self.queues = Queues(self.db, queue_for)
        self.deliveries = Deliveries(self.db)
        self.endpoints = Endpoints(self.db)
        self.batches = Batches(self.db, self.admission)
        self.stats = Stats(self.db)
        self.pauses = Pauses(self.db)
        self.browse = Browse(self.db, self.pipelines)
        self.sessions = Sessions(self.db)

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
    "BatchItem",
    "Caller",
    "Claim",
    "Clock",
    "Delivery",
    "EventSink",
    "Follow",
    "JobPage",
    "JobStore",
    "LanePause",
    "OutboxBatch",
    "OutboxMessage",
    "QueueBacklog",
    "QueueFor",
    "QueueSizes",
    "Reaped",
    "Refusal",
    "RunningStage",
    "Session",
    "Settlement",
    "Snapshot",
    "StoredBytes",
    "Waiting",
    "WorkerBeat",
    "WorkerInfo",
    "create_db_engine",
    "current_revision",
    "default_queue_for",
    "ensure_migrated",
    "head_revision",
    "migrate",
    "utcnow",
]
