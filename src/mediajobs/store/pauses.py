"""Paused lanes: an operator stops admission into a lane (the dashboard's queues page) and resumes it.

A pause is a row of `lane_pauses`. Admission (store/admission.py) admits no stage of a job that is in
a paused lane and has not started: such stages wait as `ready`, like stages held by a user's
concurrency limit, and are admitted by the admission after `resume` (and the maintenance tick). Jobs
that have started run to their end (their next stages, fan-out children and retries are admitted as
usual): a pause drains a lane, it does not freeze the work in it. The predicate is folded into the
statements admission already runs, so a pause costs no extra round trip on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, insert, or_, select

from .tables import JobRow, LanePauseRow
from .tx import Database


def lane_paused(lane: Any) -> ColumnElement[bool]:
    """`lane` (a column or bound parameter) is paused."""
    return exists(select(LanePauseRow.lane).where(LanePauseRow.lane == lane))


def admissible() -> ColumnElement[bool]:
    """The job (JobRow in the query) may have stages admitted: it has started, or its lane runs."""
    return or_(JobRow.started_at.is_not(None), ~lane_paused(JobRow.lane))


@dataclass(frozen=True, kw_only=True, slots=True)
class LanePause:
    lane: str
    paused_at: datetime
    paused_by: str | None


class Pauses:
    def __init__(self, db: Database) -> None:
        self._db = db

    def paused(self) -> dict[str, LanePause]:
        """Every paused lane."""
        with self._db.read() as conn:
            rows = conn.execute(select(LanePauseRow.__table__)).all()
        return {r.lane: LanePause(lane=r.lane, paused_at=r.paused_at, paused_by=r.paused_by) for r in rows}

    def pause(self, lane: str, *, by: str | None) -> bool:
        """Pause `lane`; False when it already was."""
        with self._db.tx() as tx:
            if tx.conn.execute(select(LanePauseRow.lane).where(LanePauseRow.lane == lane)).first():
                return False
            tx.conn.execute(insert(LanePauseRow).values(lane=lane, paused_at=tx.now, paused_by=by))
        return True

    def resume(self, lane: str) -> bool:
        """Let admission into `lane` again; False when it was not paused."""
        with self._db.tx() as tx:
            gone = tx.conn.execute(delete(LanePauseRow).where(LanePauseRow.lane == lane)).rowcount
        return bool(gone)


__all__ = ["LanePause", "Pauses", "admissible", "lane_paused"]
