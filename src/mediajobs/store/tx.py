"""The database handle every part of the store shares: transactions, the clock, and error translation.

Every write goes through `Database.tx()`, which hands the caller a `Tx`: the connection, the time the
transaction started, and the events and job endings it wrote. Once the transaction has committed,
its events go to the event sink (live progress) and its job endings to the hooks; a rolled-back
transaction publishes nothing.

A transaction also records what is left to do once it has committed: the stage messages it wrote
that are due now (`outgoing`), the users with stages it left waiting (`waiting_for`: a new job's first
stages) and the users whose slot it freed that nobody took (`admit_for`). The store does nothing with
them itself: a caller that wants them gathers them with `Database.collecting()` and acts on them
(`Dispatcher.settled`: publish, then admit); what nobody gathers, the relay and the maintenance tick
find in the database a moment later.

Driver and SQLAlchemy errors that mean "the database is not there" leave the store as
`StoreUnavailable`, so no layer above it needs to know SQLAlchemy.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import Connection, Engine, Executable, Row, bindparam, select, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, PendingRollbackError

from mediajobs.domain.events import ProgressEvent
from mediajobs.domain.routing import QueueFor, queue_router
from mediajobs.errors import StoreUnavailable
from mediajobs.hooks import HookChain, Hooks, JobFinished
from mediajobs.hooks.durable import DurableHook

from .tables import JobRow, UserRow

if TYPE_CHECKING:
    from .messages import OutboxMessage

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
EventSink = Callable[[Sequence[ProgressEvent]], None]
"""Receives events after the transaction that wrote them committed (e.g. Redis pub/sub)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


default_queue_for: QueueFor = queue_router()
"""Queue names without a deployment prefix."""


@dataclass(kw_only=True)
class Tx:
    """One open write transaction."""

    conn: Connection
    now: datetime
    postgres: bool
    events: list[ProgressEvent] = field(default_factory=list)
    finished: list[JobFinished] = field(default_factory=list)
    outgoing: list[OutboxMessage] = field(default_factory=list)  # stage messages due now
    waiting_for: set[str] = field(default_factory=set)  # users with stages this left waiting
    admit_for: set[str] = field(default_factory=set)  # users with a freed slot nobody took
    durable: Sequence[DurableHook] = ()  # the hooks whose deliveries a job's end writes
    deliveries: list[int] = field(default_factory=list)  # hook deliveries written, due now
    reserved: set[uuid.UUID] = field(default_factory=set)  # jobs whose media this reserved (metering.py)

    def lock_job(self, job_id: uuid.UUID, *, with_tier: bool = False) -> Row[Any] | None:
        """The job's row, locked against other writers until commit (PostgreSQL: FOR UPDATE; SQLite
        holds the database's write lock from BEGIN IMMEDIATE). Every write transaction that touches a
        job takes this lock first, so writers of one job never deadlock. `with_tier`: the row also
        carries its owner's `tier` (same statement)."""
        if with_tier:
            query = _JOB_TIER_FOR_UPDATE if self.postgres else _JOB_TIER
        else:
            query = _JOB_FOR_UPDATE if self.postgres else _JOB
        return self.conn.execute(query, {"job_id": job_id}).one_or_none()

    def fetch_raw(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """PostgreSQL only: one statement through psycopg's own cursor on this transaction's
        connection, and its rows as tuples. It skips SQLAlchemy Core's per-execution work (cache
        look-up, result set-up), which costs more than a short statement's round trip
        (bench/statement_overhead.py): for the hottest statements only. Rows come back as psycopg
        gives them (timestamptz in the session's zone, not UTC). The engine's `before_cursor_execute`
        listeners see it like any other statement (the SQL counts of diagnostics.py and the tests)."""
        cursor = self.conn.connection.cursor()
        try:
            self.conn.dispatch.before_cursor_execute(self.conn, cursor, sql, params, None, False)
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        except psycopg.Error as exc:
            if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
                self.conn.invalidate(exc)  # the connection is gone: the pool must not hand it out again
            raise
        finally:
            cursor.close()


# Hot statements are built once: building one and computing its cache key costs more Python time
# than sending it (py-spy: a third of a worker's time per no-op stage went to building statements).
_JOB = select(JobRow.__table__).where(JobRow.id == bindparam("job_id"))
_JOB_FOR_UPDATE = _JOB.with_for_update()
_JOB_TIER = (
    select(JobRow.__table__, UserRow.tier)
    .join(UserRow, UserRow.id == JobRow.owner_id)
    .where(JobRow.id == bindparam("job_id"))
)
_JOB_TIER_FOR_UPDATE = _JOB_TIER.with_for_update(of=JobRow)


def _unavailable(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError | PendingRollbackError):
        return True
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):  # from `Tx.fetch_raw`
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


@dataclass(kw_only=True)
class FollowUps:
    """What committed transactions left to do, gathered by `Database.collecting()`."""

    messages: list[OutboxMessage] = field(default_factory=list)  # publish these now
    waiting_for: set[str] = field(default_factory=set)  # admit these users' waiting stages
    admit_for: set[str] = field(default_factory=set)  # admit these users' waiting stages, if any
    deliveries: list[int] = field(default_factory=list)  # hook deliveries to publish now

    def add(self, tx: Tx) -> None:
        self.messages.extend(tx.outgoing)
        self.waiting_for |= tx.waiting_for
        self.admit_for |= tx.admit_for
        self.deliveries.extend(tx.deliveries)

    def empty(self) -> bool:
        return not (self.messages or self.waiting_for or self.admit_for or self.deliveries)


class Database:
    """The engine, the clock, and what happens after a commit (event sink, hooks)."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = utcnow,
        event_sink: EventSink | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.event_sink = event_sink
        self.hooks = hooks or Hooks()
        self.durable = durable_hooks(self.hooks)
        self.postgres = engine.dialect.name == "postgresql"
        self._local = threading.local()  # the FollowUps this thread is gathering, if any

    @contextmanager
    def tx(self, *, durable: bool = True) -> Iterator[Tx]:
        """A write transaction.

        `durable=False` commits without waiting for the WAL flush (PostgreSQL): for writes whose loss
        in a database crash is harmless (lease renewals, marking messages sent).
        """
        try:
            with self.engine.begin() as conn:
                if not durable and self.postgres:
                    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                tx = Tx(conn=conn, now=self.clock(), postgres=self.postgres, durable=self.durable)
                yield tx
        except Exception as exc:
            if _unavailable(exc):
                raise StoreUnavailable(f"the database is unavailable: {_short(exc)}") from exc
            raise
        self._after_commit(tx)

    def write_one(self, statement: Executable, params: Mapping[str, Any] | None = None) -> None:
        """One statement that commits on its own. On PostgreSQL it runs in autocommit: one round trip,
        no BEGIN or COMMIT of ours (durable: the commit waits for the WAL flush like any other)."""
        if not self.postgres:
            with self.tx() as tx:
                tx.conn.execute(statement, params)
            return
        with self.read() as conn:  # a connection in autocommit
            conn.execute(statement, params)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads. On PostgreSQL it runs in autocommit: each statement sees the latest
        commits (as under READ COMMITTED anyway) and no BEGIN or ROLLBACK goes over the wire; a
        ROLLBACK would also make psycopg drop the connection's prepared statements."""
        try:
            with self.engine.connect() as conn:
                if self.postgres:
                    conn.execution_options(isolation_level="AUTOCOMMIT")
                yield conn
        except Exception as exc:
            if _unavailable(exc):
                raise StoreUnavailable(f"the database is unavailable: {_short(exc)}") from exc
            raise

    @contextmanager
    def collecting(self) -> Iterator[FollowUps]:
        """Gather what the transactions this thread commits inside the block leave to do."""
        outer = getattr(self._local, "follow_ups", None)
        gathered = FollowUps()
        self._local.follow_ups = gathered
        try:
            yield gathered
        finally:
            self._local.follow_ups = outer

    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def _after_commit(self, tx: Tx) -> None:
        if tx.events and self.event_sink is not None:
            try:
                self.event_sink(tx.events)
            except Exception:  # live delivery is best effort; the event log is the record
                log.warning("could not hand %d events to the event sink", len(tx.events), exc_info=True)
        for ended in tx.finished:
            try:
                self.hooks.job_finished(ended)
            except Exception:
                log.warning("a job_finished hook failed for %s", ended.job_id, exc_info=True)
        gathering: FollowUps | None = getattr(self._local, "follow_ups", None)
        if gathering is not None:
            gathering.add(tx)


def durable_hooks(hooks: Hooks) -> tuple[DurableHook, ...]:
    """The durable hooks among `hooks` (a chain's members, or the hook itself)."""
    members = hooks.hooks if isinstance(hooks, HookChain) else (hooks,)
    return tuple(h for h in members if isinstance(h, DurableHook))


def _short(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return (str(original).strip().splitlines() or [type(original).__name__])[0][:300]


__all__ = ["Clock", "Database", "EventSink", "FollowUps", "QueueFor", "Tx", "default_queue_for", "utcnow"]
