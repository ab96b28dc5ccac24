"""The event log: written in the transaction of the state change it reports, read for replay.

Writers hold the job's row (locked, with its `event_seq`) and pass a `JobHead`: the events they log
get the next sequence numbers, and the caller's own UPDATE of the job row moves `event_seq` on by
as many. So logging events costs one INSERT, whatever else the transaction does.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import delete, func, insert, select

from mediajobs.domain import TERMINAL_JOB_STATUSES, JobStatus
from mediajobs.domain.events import EventType, ProgressEvent

from .bulk import bulk_insert
from .mapping import event_from_row
from .tables import JobEventRow, JobRow
from .tx import Database, Tx

MAX_EVENTS_PER_JOB = 1000


@dataclass(frozen=True, kw_only=True, slots=True)
class Note:
    """An event to log; the job's status and percent default to the head's."""

    type: EventType = EventType.STATE
    stage: str | None = None
    stage_status: str | None = None
    stage_percent: float | None = None
    message: str | None = None
    status: str | None = None
    job_percent: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class JobHead:
    """What every event of a job carries, and the seq of the job's last event before these."""

    job_id: uuid.UUID
    owner_id: str
    status: str
    progress: float
    file: str | None
    seq: int


_INSERT_EVENTS = insert(JobEventRow).returning(JobEventRow.id, sort_by_parameter_order=True)  # built once


def log_events(tx: Tx, head: JobHead, notes: Sequence[Note]) -> None:
    """Insert `notes` as events head.seq+1, head.seq+2, ... (the caller moves the job's event_seq)."""
    if not notes:
        return
    rows = _event_rows(tx, head, notes)
    ids = tx.conn.execute(_INSERT_EVENTS, rows).scalars()
    for row, event_id in zip(rows, ids, strict=True):
        tx.events.append(ProgressEvent(**{**row, "id": event_id, "type": EventType(row["type"])}))
    trim_log(tx, head.job_id, before=head.seq, last=head.seq + len(notes))


def move_and_log(tx: Tx, values: dict[str, Any], head: JobHead, notes: Sequence[Note]) -> None:
    """PostgreSQL: update the (locked) job row with `values` and log `notes` (as `log_events`) in one
    statement: the UPDATE a CTE of the events' INSERT, through psycopg's own cursor."""
    rows = _event_rows(tx, head, notes)
    columns = tuple(sorted(values))
    sql = _MOVE_AND_LOG.get((columns, len(rows)))
    if sql is None:
        sql = _MOVE_AND_LOG[(columns, len(rows))] = _move_and_log_sql(columns, len(rows))
    params: dict[str, Any] = {"job": head.job_id}
    params.update({f"v_{c}": _plain(values[c]) for c in columns})
    for n, row in enumerate(rows):
        params.update({f"e{n}_{c}": row[c] for c in _EVENT_COLUMNS})
    ids = {seq: event_id for event_id, seq in tx.fetch_raw(sql, params)}
    for row in rows:
        tx.events.append(ProgressEvent(**{**row, "id": ids[row["seq"]], "type": EventType(row["type"])}))
    trim_log(tx, head.job_id, before=head.seq, last=head.seq + len(notes))


_EVENT_COLUMNS = (
    "job_id",
    "owner_id",
    "seq",
    "type",
    "status",
    "stage",
    "stage_status",
    "stage_percent",
    "job_percent",
    "file",
    "message",
    "at",
)
_MOVE_AND_LOG: dict[tuple[tuple[str, ...], int], str] = {}  # by the SET clause's columns and events


def _move_and_log_sql(columns: tuple[str, ...], events: int) -> str:
    sets = ", ".join(f"{c} = %(v_{c})s" for c in columns)
    rows = ", ".join("(" + ", ".join(f"%(e{n}_{c})s" for c in _EVENT_COLUMNS) + ")" for n in range(events))
    return (
        f"WITH moved AS (UPDATE jobs SET {sets} WHERE id = %(job)s) "
        f"INSERT INTO job_events ({', '.join(_EVENT_COLUMNS)}) VALUES {rows} RETURNING id, seq"
    )


def _plain(value: Any) -> Any:
    """A value as psycopg adapts it (a status enum as its string)."""
    return value.value if isinstance(value, Enum) else value


def _event_rows(tx: Tx, head: JobHead, notes: Sequence[Note]) -> list[dict[str, Any]]:
    return [
        dict(
            job_id=head.job_id,
            owner_id=head.owner_id,
            seq=head.seq + n,
            type=note.type.value,
            status=note.status or head.status,
            stage=note.stage,
            stage_status=note.stage_status,
            stage_percent=note.stage_percent,
            job_percent=head.progress if note.job_percent is None else note.job_percent,
            file=head.file,
            message=note.message,
            at=tx.now,
        )
        for n, note in enumerate(notes, start=1)
    ]


def trim_log(tx: Tx, job_id: uuid.UUID, *, before: int, last: int) -> None:
    """Now and then (when events `before`+1..`last` crossed a hundred), keep a long job's log bounded."""
    if last // 100 > before // 100:
        tx.conn.execute(
            delete(JobEventRow).where(
                JobEventRow.job_id == job_id, JobEventRow.seq <= last - MAX_EVENTS_PER_JOB
            )
        )


def log_first_events(tx: Tx, heads: Sequence[JobHead], note: Note) -> None:
    """`note` as the first event (seq 1) of each of many new jobs, in one statement (bulk.py)."""
    rows: list[dict[str, Any]] = [
        dict(
            job_id=head.job_id,
            owner_id=head.owner_id,
            seq=head.seq + 1,
            type=note.type.value,
            status=note.status or head.status,
            stage=note.stage,
            stage_status=note.stage_status,
            stage_percent=note.stage_percent,
            job_percent=head.progress if note.job_percent is None else note.job_percent,
            file=head.file,
            message=note.message,
            at=tx.now,
        )
        for head in heads
    ]
    written = bulk_insert(tx, JobEventRow, rows, returning=("id", "job_id"))  # in no particular order
    ids = {job_id: event_id for event_id, job_id in written}
    tx.events.extend(
        ProgressEvent(**{**row, "id": ids[row["job_id"]], "type": EventType(row["type"])}) for row in rows
    )


class EventReads:
    """Reading the log: replay for followers (`Last-Event-ID`), and the database-only follow."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def job_status(self, job_id: uuid.UUID) -> JobStatus | None:
        """The job's status now (one column of one row); None when there is no such job."""
        with self._db.read() as conn:
            status = conn.execute(select(JobRow.status).where(JobRow.id == job_id)).scalar_one_or_none()
        return None if status is None else JobStatus(status)

    def job_events(self, job_id: uuid.UUID, *, after_seq: int = 0, limit: int = 1000) -> list[ProgressEvent]:
        """A job's logged events with seq > after_seq, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(JobEventRow.__table__)
                .where(JobEventRow.job_id == job_id, JobEventRow.seq > after_seq)
                .order_by(JobEventRow.seq)
                .limit(limit)
            ).all()
        return [event_from_row(r) for r in rows]

    def owner_events(self, owner_id: str, *, after_id: int = 0, limit: int = 1000) -> list[ProgressEvent]:
        """Every job's events of one user with id > after_id, in the order they were written."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(JobEventRow.__table__)
                .where(JobEventRow.owner_id == owner_id, JobEventRow.id > after_id)
                .order_by(JobEventRow.id)
                .limit(limit)
            ).all()
        return [event_from_row(r) for r in rows]

    def first_event_id(self, job_ids: Sequence[uuid.UUID]) -> int | None:
        """Just before the first event of these jobs (where a stream of all of them starts)."""
        if not job_ids:
            return None
        with self._db.read() as conn:
            value = conn.execute(
                select(func.min(JobEventRow.id)).where(JobEventRow.job_id.in_(list(job_ids)))
            ).scalar()
        return None if value is None else int(value) - 1

    def job_endings(self, job_ids: Sequence[uuid.UUID], after_id: int = 0) -> list[ProgressEvent]:
        """The final events of these jobs with id > after_id, in order (a finished batch's replay)."""
        if not job_ids:
            return []
        with self._db.read() as conn:
            rows = conn.execute(
                select(JobEventRow.__table__)
                .where(
                    JobEventRow.job_id.in_(list(job_ids)),
                    JobEventRow.id > after_id,
                    JobEventRow.type == EventType.STATE.value,
                    JobEventRow.stage.is_(None),
                    JobEventRow.status.in_(sorted(TERMINAL_JOB_STATUSES)),
                )
                .order_by(JobEventRow.id)
            ).all()
        return [e for e in (event_from_row(r) for r in rows) if e.final]

    def last_event_id(self, owner_id: str) -> int:
        with self._db.read() as conn:
            value = conn.execute(
                select(JobEventRow.id)
                .where(JobEventRow.owner_id == owner_id)
                .order_by(JobEventRow.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        return int(value or 0)

    def latest_event(self, job_id: uuid.UUID) -> ProgressEvent | None:
        """The job's most recent event (its latest progress and message), if any."""
        with self._db.read() as conn:
            row = conn.execute(
                select(JobEventRow.__table__)
                .where(JobEventRow.job_id == job_id)
                .order_by(JobEventRow.seq.desc())
                .limit(1)
            ).one_or_none()
        return None if row is None else event_from_row(row)


__all__ = ["MAX_EVENTS_PER_JOB", "EventReads", "JobHead", "Note", "log_events", "move_and_log", "trim_log"]
