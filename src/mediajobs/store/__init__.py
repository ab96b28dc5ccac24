"""Job storage: the only code that writes job state. Tables, migrations and the JobStore."""

from .base import Clock, QueueFor, utcnow
from .db import create_db_engine, current_revision, ensure_migrated, head_revision, migrate
from .jobs import JobPage, JobsMixin
from .outbox import OutboxBatch, OutboxMessage, OutboxMixin, Reaped
from .stages import ArtifactRecord, Claim, Refusal, StagesMixin


class JobStore(JobsMixin, StagesMixin, OutboxMixin):
    """Jobs (API side), stages (runner side) and the outbox (dispatcher side), on one engine."""


__all__ = [
    "ArtifactRecord",
    "Claim",
    "Clock",
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
