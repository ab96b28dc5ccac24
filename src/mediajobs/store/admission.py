"""The store's side of admission: ask the policy (domain/admission.py) which ready stages go to the
broker, and write the answer (queued + an outbox message routed to a lane, or ready to wait).

With a policy that admits everything (`AdmitAll`), stages are admitted inside the transaction that made
them ready. With a policy that holds stages back (`FairShare`), no write transaction of the hot path
takes a lock:
- a stage that ends hands its slot to its job's next stage, or when none is ready to the user's oldest
  waiting stage (`pass_slot`), in its own transaction: one out, one in, the user's count unchanged;
- a new job's root stages are admitted in the submit's own transaction when the user has room and
  nothing of theirs waits (`decide_new`: a look, then the user's lock and the look again);
- everything else that became ready (those roots when the user is full, a fan-out's other children)
  waits as `ready`; `admit_owner` runs right after the commit (`Tx.waiting_for` after a submit, `Tx.admit_for`
  after a stage's end, both acted on by `Dispatcher.settled`) and on the maintenance tick. It reads
  the user's count first (at their limit: nothing more), then takes the user's admission lock (a
  PostgreSQL advisory lock; SQLite has one writer), counts again and admits what fits.
So two processes admitting for one user cannot both see the same free slot, and submits of one user
never wait for each other; threads of one process admitting for the same user fold into one pass
(store/passes.py). Lock order: a user lock first, then job rows only with SKIP LOCKED; the
tick takes job rows (SKIP LOCKED) first, then user locks in sorted order; `pass_slot` holds its own
job's row and takes another job's only with SKIP LOCKED: nobody ever waits on a job row while
holding a user lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    bindparam,
    func,
    select,
    text,
    true,
    update,
)

from mediajobs.domain import (
    AdmissionPolicy,
    AdmitAll,
    Candidate,
    Lane,
    StageRun,
    StageStatus,
)

from .load import (
    OPEN,
    PER_OWNER,
    HandedOn,
    JobKey,
    OwnLoad,
    TxLoad,
    in_flight,
    ready_rows,
    written_in,
)
from .mapping import stage_from_row
from .outbox import Send, write_messages
from .passes import Passes
from .pauses import admissible, lane_paused
from .tables import JobRow, StageRunRow, UserRow
from .tx import Database, QueueFor, Tx
from .writes import set_status


class Admission:
    def __init__(self, db: Database, queue_for: QueueFor, policy: AdmissionPolicy | None = None) -> None:
        self._db = db
        self._queue_for = queue_for
        self.policy: AdmissionPolicy = policy or AdmitAll()
        self._passes = Passes()
        # the hot look-ups, built once (see store/tx.py); their parameters are bound at execution
        owner = bindparam("waiting_owner", type_=String)
        first = self._waiting(owner).limit(1)
        self._waiting_first = first.with_for_update(of=JobRow, skip_locked=True) if db.postgres else first
        self._waiting_some = self._waiting(owner).limit(bindparam("waiting_limit", type_=Integer))
        self._any_waiting = select(owner, self._waiting(owner).limit(1).exists())
        load_owner = bindparam("load_owner", type_=String)
        self._own_load = select(  # a user's tier, stages in flight, and whether any stage waits
            UserRow.tier,
            in_flight(load_owner).scalar_subquery().label("in_flight"),
            self._waiting(load_owner).limit(1).exists().label("waiting"),
            lane_paused(bindparam("load_lane", type_=String)).label("paused"),
        ).where(UserRow.id == load_owner)

    @property
    def holds(self) -> bool:
        return self.policy.holds

    # -- inside the transaction that made stages ready --------------------------------------------

    def lock(self, tx: Tx, owner_ids: Iterable[str]) -> None:
        """Take the users' admission locks (sorted: no two admitters deadlock), if the policy holds."""
        if not (self.holds and tx.postgres):
            return
        for owner in sorted(set(owner_ids)):
            tx.conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"mj-admit:{owner}"}
            )

    def hand_on(
        self,
        tx: Tx,
        job: JobKey,
        ready: Sequence[StageRun],
        *,
        freed: int = 0,
        keep: Callable[[StageRun, str], bool] | None = None,
    ) -> HandedOn:
        """Stages of `job` that just became ready: admit them, or leave them waiting for `admit_owner`;
        returns them in their new state. `freed`: how many of the job's stages left flight in this
        transaction (their slots go to the first `freed` ready stages without asking the policy).
        `keep(run, lane)`: the first admitted stage it accepts is neither queued nor sent but
        returned as `kept` (its lane set) for the caller to claim in this transaction."""
        if not ready:
            return HandedOn(runs=())
        if self.holds:
            lanes = {r.name: job.lane for r in ready[:freed]}
            if len(ready) > freed:  # the others wait for the admission after the commit
                tx.admit_for.add(job.owner_id)
        else:
            admitted = self.policy.admit([_candidate(job, run) for run in ready], TxLoad.of(tx))
            lanes = {c.stage: c.lane for c in admitted}
        go = [r for r in ready if r.name in lanes]
        kept = next((r for r in go if keep(r, lanes[r.name])), None) if keep is not None else None
        wait = [r for r in ready if r.name not in lanes]
        self._queue(tx, job, [r for r in go if r is not kept], lanes)
        set_status(tx, job.id, [r.name for r in wait], StageStatus.READY, available_at=tx.now)
        runs = tuple(
            replace(r, status=StageStatus.QUEUED, available_at=tx.now, routed_lane=lanes[r.name])
            if r.name in lanes
            else replace(r, status=StageStatus.READY, available_at=tx.now)
            for r in ready
        )
        if kept is None:
            return HandedOn(runs=runs)
        return HandedOn(runs=runs, kept=replace(kept, routed_lane=lanes[kept.name]))

    def decide_new(self, tx: Tx, job: JobKey, roots: Sequence[StageRun]) -> dict[str, str]:
        """For a new job's root stages: those admitted at once, with their lanes.

        With a holding policy, in the submit's own transaction when the user has room and nothing of
        theirs waits (a look without a lock; then the user's admission lock and the same look again,
        so no other admitter of the user can hand out the same slot); otherwise none, and
        `admit_owner` offers them after the commit, behind the user's older waiting stages."""
        if not roots:
            return {}
        candidates = [_candidate(job, run) for run in roots]
        if not self.holds:
            return {c.stage: c.lane for c in self.policy.admit(candidates, TxLoad.of(tx))}
        look = OwnLoad.look(tx, self._own_load, job.owner_id, job.lane)
        if look.waiting or look.paused or self.policy.room(job.owner_id, look) <= 0:
            return {}
        if tx.postgres:  # (SQLite: this transaction already holds the database's one write lock)
            self.lock(tx, [job.owner_id])
            look = OwnLoad.look(tx, self._own_load, job.owner_id, job.lane)
            if look.waiting:
                return {}
        return {c.stage: c.lane for c in self.policy.admit(candidates, look)}

    # -- after the commit -----------------------------------------------------------------------------

    def admit_owner(self, owner_id: str) -> set[uuid.UUID]:
        """Offer the user's waiting stages (oldest job first) to the policy; returns the jobs whose
        stages were admitted (their messages are in the outbox). A user at their limit costs one
        read: no lock, no commit."""
        if not self.holds:
            return set()
        return self._passes.run(owner_id, lambda: self._admit_owner(owner_id))

    def _admit_owner(self, owner_id: str) -> set[uuid.UUID]:
        with self._db.read() as conn:  # no lock, no commit while the user is at their limit: a slot
            #                            freed after this read is passed on by the commit freeing it
            if self.policy.room(owner_id, TxLoad(conn, self._db.clock())) <= 0:
                return set()
        with self._db.tx() as tx:
            self.lock(tx, [owner_id])
            load = TxLoad.of(tx)
            room = self.policy.room(owner_id, load)
            if room <= 0:
                return set()
            some = {"waiting_owner": owner_id, "waiting_limit": min(room, PER_OWNER)}
            rows = tx.conn.execute(self._waiting_some, some).all()
            if rows and tx.postgres:  # holding the user lock: never wait for a job row
                locked = set(
                    tx.conn.execute(
                        select(JobRow.id)
                        .where(JobRow.id.in_({r.job_id for r in rows}))
                        .with_for_update(skip_locked=True)
                    ).scalars()
                )
                rows = [r for r in rows if r.job_id in locked]
            return self._admit_rows(tx, rows, load)

    def pass_slot(self, tx: Tx, owner_id: str) -> None:
        """One of the user's stages left flight in `tx` and no stage of its own job took the slot: offer
        it to the user's oldest waiting stage, in the same transaction and without the user's lock
        (a slot that moves from one stage to another never raises the user's count, and the policy
        still decides, with the count this transaction sees). A job row another transaction holds is
        skipped, never waited for. Whatever is left (nothing waiting, or room for more) is admitted
        after the commit (`tx.admit_for`)."""
        if not self.holds:
            return
        rows = tx.conn.execute(self._waiting_first, {"waiting_owner": owner_id}).all()
        if not rows:  # a stage may become ready as this commits: look again after the commit
            tx.admit_for.add(owner_id)
            return
        load = TxLoad.of(tx)
        room = self.policy.room(owner_id, load)
        if room > 1:  # room for more than this one
            tx.admit_for.add(owner_id)
        if room > 0:
            self._admit_rows(tx, rows, load)

    def freed(self, tx: Tx, owner_id: str) -> None:
        """Stages of the user left flight in `tx` (a cancel): admit what now fits after the commit."""
        if self.holds:
            tx.admit_for.add(owner_id)

    def _waiting(self, owner_id: str | ColumnElement[Any]) -> Select[Any]:
        """The user's waiting stages of open jobs, oldest job first.

        On PostgreSQL, a walk over the user's open jobs in age order (the partial index), each job's
        stages looked up by its key, so that a LIMIT stops after the first few waiting stages
        whatever the planner estimates: as a plain join, an estimate of one ready stage (stale
        during a burst) made it compare every open job with every ready stage, 82 ms per look with
        500 jobs waiting (0.1 ms now). SQLite (one machine, no LATERAL) keeps the plain join."""
        where = (
            JobRow.owner_id == owner_id,
            written_in(JobRow.status, OPEN),
            JobRow.cancel_requested_at.is_(None),
            admissible(),  # not a job of a paused lane that has not started
        )
        if not self._db.postgres:
            return (
                ready_rows()
                .where(*where, StageRunRow.status == StageStatus.READY)
                .order_by(JobRow.created_at, StageRunRow.job_id, StageRunRow.position)
            )
        stages = (
            select(StageRunRow.__table__)
            .where(StageRunRow.job_id == JobRow.id)
            .order_by(StageRunRow.position)
            .offset(0)  # keeps the lookup per job: PostgreSQL does not flatten a subquery with OFFSET
            .lateral("stages")
        )
        return (
            select(stages, JobRow.owner_id, JobRow.lane, JobRow.created_at.label("job_created_at"))
            .select_from(JobRow)
            .join(stages, true())
            .where(*where, written_in(stages.c.status, [StageStatus.READY]))
            # the index's order, so that a LIMIT stops the walk; within a job, the lookup's order
            .order_by(JobRow.created_at, JobRow.id)
        )

    def admit_after(self, job_id: uuid.UUID) -> set[uuid.UUID]:
        """After a stage of `job_id` ended: if its owner has stages waiting, admit what now fits
        (one read when nothing waits)."""
        if not self.holds:
            return set()
        owner = select(JobRow.owner_id).where(JobRow.id == job_id).scalar_subquery()
        return self._admit_if_waiting(owner)

    def admit_if_waiting(self, owner_id: str) -> set[uuid.UUID]:
        """If the user has stages waiting, admit what fits (one read when nothing waits)."""
        if not self.holds:
            return set()
        return self._admit_if_waiting(owner_id)

    def _admit_if_waiting(self, owner: str | ColumnElement[Any]) -> set[uuid.UUID]:
        if isinstance(owner, str):
            query, params = self._any_waiting, {"waiting_owner": owner}
        else:
            query, params = select(owner, self._waiting(owner).limit(1).exists()), {}
        with self._db.read() as conn:
            found = conn.execute(query, params).first()
        if found is None or found[0] is None or not found[1]:
            return set()
        return self.admit_owner(str(found[0]))

    def send(
        self, tx: Tx, job: JobKey, runs: Sequence[StageRun], lanes: dict[str, str] | None = None
    ) -> None:
        """Outbox messages for admitted stages, each to its lane's queue (default: the job's)."""
        by_lane: dict[str, list[Send]] = {}
        for run in runs:
            lane = (lanes or {}).get(run.name) or run.routed_lane or job.lane
            by_lane.setdefault(lane, []).append(Send(stage=run.name, kind=run.kind, fence=run.fence))
        for lane, sends in by_lane.items():
            write_messages(tx, self._queue_for, job_id=job.id, lane=lane, sends=sends)

    def _queue(self, tx: Tx, job: JobKey, go: Sequence[StageRun], lanes: dict[str, str]) -> None:
        by_lane: dict[str, list[str]] = {}
        for run in go:
            by_lane.setdefault(lanes[run.name], []).append(run.name)
        for lane, names in by_lane.items():
            set_status(tx, job.id, names, StageStatus.QUEUED, routed_lane=lane, **_queued(tx))
        self.send(tx, job, go, lanes)

    def _admit_rows(self, tx: Tx, rows: Sequence[Any], load: TxLoad | None = None) -> set[uuid.UUID]:
        """Offer waiting stage rows (joined with their job's owner, lane and age) to the policy and
        queue the ones it admits; a row that changed meanwhile (a cancel) is skipped."""
        if not rows:
            return set()
        keys = {
            r.job_id: JobKey(id=r.job_id, owner_id=r.owner_id, lane=r.lane, created_at=r.job_created_at)
            for r in rows
        }
        runs = {(r.job_id, r.name): stage_from_row(r) for r in rows}
        candidates = [_candidate(keys[job_id], run) for (job_id, _), run in runs.items()]
        admitted: set[uuid.UUID] = set()
        by_job: dict[uuid.UUID, list[tuple[StageRun, str]]] = {}
        for candidate in self.policy.admit(candidates, load or TxLoad.of(tx)):
            by_job.setdefault(candidate.job_id, []).append(
                (runs[(candidate.job_id, candidate.stage)], candidate.lane)
            )
        for job_id, chosen in by_job.items():
            for run, lane in chosen:
                moved = tx.conn.execute(
                    update(StageRunRow)
                    .where(
                        StageRunRow.job_id == job_id,
                        StageRunRow.name == run.name,
                        StageRunRow.status == StageStatus.READY,
                    )
                    .values(status=StageStatus.QUEUED, routed_lane=lane, updated_at=tx.now, **_queued(tx))
                ).rowcount
                if moved == 1:
                    self.send(tx, keys[job_id], [run], {run.name: lane})
                    admitted.add(job_id)
        return admitted

    # -- the maintenance tick ----------------------------------------------------------------------

    def admit_waiting(self, *, per_owner: int = PER_OWNER) -> int:
        """Offer every user's oldest waiting stages to the policy again (fair across users: each
        user's oldest `per_owner`, whatever another user's backlog)."""
        ranked = (
            select(
                StageRunRow.job_id,
                StageRunRow.name,
                JobRow.owner_id,
                func.row_number()
                .over(partition_by=JobRow.owner_id, order_by=(JobRow.created_at, StageRunRow.position))
                .label("rank"),
            )
            .join(JobRow, JobRow.id == StageRunRow.job_id)
            .where(
                written_in(StageRunRow.status, [StageStatus.READY]),
                written_in(JobRow.status, OPEN),
                JobRow.cancel_requested_at.is_(None),
                admissible(),
            )
            .subquery()
        )
        with self._db.read() as conn:
            waiting = conn.execute(
                select(ranked.c.job_id, ranked.c.owner_id).where(ranked.c.rank <= per_owner)
            ).all()
        if not waiting:
            return 0
        with self._db.tx() as tx:
            jobs = select(JobRow.id, JobRow.owner_id).where(
                JobRow.id.in_({w.job_id for w in waiting}),
                JobRow.status.in_(OPEN),
                JobRow.cancel_requested_at.is_(None),
            )
            if tx.postgres:  # job rows first, like every writer; another admitter takes the others
                jobs = jobs.with_for_update(skip_locked=True)
            locked = tx.conn.execute(jobs).all()
            if not locked:
                return 0
            self.lock(tx, (r.owner_id for r in locked))
            rows = tx.conn.execute(
                ready_rows()
                .where(
                    StageRunRow.job_id.in_([r.id for r in locked]), StageRunRow.status == StageStatus.READY
                )
                .order_by(JobRow.created_at, StageRunRow.position)
            ).all()
            return len(self._admit_rows(tx, rows))

    def reroute_aged(self, *, limit: int = 500) -> int:
        """Batch-lane messages that waited longer than the policy's `batch_aging` in the broker go
        again to the standard lane (the stale copy in the batch queue is refused when it arrives)."""
        aging: timedelta | None = getattr(self.policy, "batch_aging", None)
        if aging is None:
            return 0
        cutoff = self._db.clock() - aging
        with self._db.read() as conn:
            stale = conn.execute(
                select(StageRunRow.job_id, StageRunRow.name)
                .where(
                    StageRunRow.status == StageStatus.QUEUED,
                    StageRunRow.routed_lane == Lane.BATCH,
                    StageRunRow.available_at < cutoff,
                )
                .limit(limit)
            ).all()
        moved = 0
        for job_id, name in stale:
            with self._db.tx() as tx:
                row = tx.lock_job(job_id)
                if row is None or row.status not in OPEN:
                    continue
                touched = tx.conn.execute(
                    update(StageRunRow)
                    .where(
                        StageRunRow.job_id == job_id,
                        StageRunRow.name == name,
                        StageRunRow.status == StageStatus.QUEUED,
                        StageRunRow.routed_lane == Lane.BATCH,
                    )
                    .values(routed_lane=Lane.STANDARD, updated_at=tx.now)
                    .returning(StageRunRow.kind, StageRunRow.fence)
                ).first()
                if touched is not None:
                    write_messages(
                        tx,
                        self._queue_for,
                        job_id=job_id,
                        lane=Lane.STANDARD,
                        sends=[Send(stage=name, kind=touched.kind, fence=touched.fence)],
                    )
                    moved += 1
        return moved


def _queued(tx: Tx) -> dict[str, Any]:
    return {"available_at": tx.now, "lease_owner": None, "lease_expires_at": None}


def _candidate(job: JobKey, run: StageRun) -> Candidate:
    return Candidate(
        job_id=job.id,
        stage=run.name,
        kind=run.kind,
        owner_id=job.owner_id,
        lane=job.lane,
        job_created_at=job.created_at,
    )


__all__ = ["Admission", "HandedOn", "JobKey"]
