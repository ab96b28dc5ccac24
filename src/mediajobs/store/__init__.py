"""Job storage: the only code that writes job state. Tables, migrations and the JobStore."""

from .base import Clock, EventSink, QueueFor, utcnow
from .db import create_db_engine, current_revision, ensure_migrated, head_revision, migrate
from .events import EventsMixin
from .jobs import JobPage, JobsMixin
from .outbox import OutboxBatch, OutboxMessage, OutboxMixin, Reaped
from .stages import ArtifactRecord, Claim, Refusal, StagesMixin


class JobStore(JobsMixin, StagesMixin, OutboxMixin, EventsMixin):
    """Jobs (API side), stages (runner side), the outbox (dispatcher side) and the event log."""


__all__ = [
    "ArtifactRecord",
    "Claim",
    "Clock",
    "EventSink",
    "JobPage",
    "JobStore",
    "OutboxBatch",
    "OutboxMessage",
    "QueueFor",
    "Reaped",
    "Refusal",
    "create_db_engine",
    "current_revision",
    "ensure_migrated",
    "head_revision",
    "migrate",
    "utcnow",
]
