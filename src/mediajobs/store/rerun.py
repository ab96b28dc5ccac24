"""The stage rows of a re-run: the old job's finished runs it reuses, written as succeeded.

See domain/rerun.py for which runs are reused; Jobs.create_rerun writes the new job with them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import update

from mediajobs.domain import Pipeline, StageRun, StageStatus
from mediajobs.domain.tenancy import TierLimits

from .metering import meter_or_refuse
from .tables import StageRunRow
from .tx import Tx


def reused_runs(
    job_id: uuid.UUID,
    runs: Sequence[StageRun],
    reused: Sequence[StageRun],
    now: datetime,
    redo: Sequence[StageRun] = (),
) -> list[StageRun]:
    """The new job's runs: declared ones that are reused succeeded with the old output; then the
    reused fan-out children, after every declared stage (as a fan-out appends them), and the
    children to run again, pending, with the parameters their parent gave them."""
    by_name = {r.name: r for r in reused}

    def done(run: StageRun, old: StageRun) -> StageRun:
        return replace(
            run,
            job_id=job_id,
            status=StageStatus.SUCCEEDED,
            output=dict(old.output or {}),
            progress=100.0,
            started_at=now,
            finished_at=now,
        )

    declared = [done(r, by_name[r.name]) if r.name in by_name else r for r in runs]
    children = sorted(
        (r for r in reused if r.parent is not None), key=lambda r: (r.parent or "", r.index or 0)
    )
    again = [
        StageRun(
            job_id=job_id,
            name=c.name,
            kind=c.kind,
            run=c.run,
            parent=c.parent,
            index=c.index,
            params=dict(c.params or {}),
            status=StageStatus.PENDING,
        )
        for c in redo
    ]
    return [*declared, *(done(c, c) for c in children), *again]


def write_reused(
    tx: Tx, pipeline: Pipeline, runs: Sequence[StageRun], owner_id: str, quota: TierLimits | None = None
) -> None:
    """Give the inserted rows of reused runs their outputs, and meter what a reused stage measured (the
    media's length, the text's characters): it does not run again to be metered then. Past `quota`:
    TooManyRequests, nothing written."""
    for run in runs:
        if run.status is not StageStatus.SUCCEEDED:
            continue
        tx.conn.execute(
            update(StageRunRow)
            .where(StageRunRow.job_id == run.job_id, StageRunRow.name == run.name)
            .values(
                output=run.output,
                progress=100.0,
                started_at=run.started_at,
                finished_at=run.finished_at,
            )
        )
        meter_or_refuse(
            tx,
            job_id=run.job_id,
            owner_id=owner_id,
            measured=False,
            pipeline=pipeline,
            stage=run.name,
            output=run.output or {},
            limits=lambda: quota,
        )


__all__ = ["reused_runs", "write_reused"]
