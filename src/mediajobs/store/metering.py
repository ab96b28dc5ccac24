"""Metering in the store: reserve a job's media when it is measured, count the text it reads, and
settle the reservation when the job ends (the rules: domain/metering.py).

Every figure is checked and written in the transaction that commits the stage which measured it,
under the user's usage row lock (the upsert below takes it), so concurrent jobs of one user are
measured one after the other: they cannot all pass on the same room.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mediajobs.domain import ErrorInfo, Pipeline
from mediajobs.domain.metering import check_characters, check_media_reservation
from mediajobs.domain.tenancy import QuotaVerdict, Tier, TierLimits, Usage, period_of
from mediajobs.errors import TooManyRequests

from .tables import JobRow, UsageRow, UserRow
from .tx import Tx

Quotas = Mapping[Tier, TierLimits]


def _add_statement(upsert: Any) -> Any:
    statement = upsert(UsageRow).values(
        user_id=bindparam("m_user"),
        period=bindparam("m_period"),
        jobs=0,
        media_seconds=bindparam("m_media"),
        reserved_seconds=bindparam("m_reserved"),
        characters=bindparam("m_chars"),
        updated_at=bindparam("m_at"),
    )
    return statement.on_conflict_do_update(
        index_elements=[UsageRow.user_id, UsageRow.period],
        set_={
            "media_seconds": UsageRow.media_seconds + statement.excluded.media_seconds,
            "reserved_seconds": UsageRow.reserved_seconds + statement.excluded.reserved_seconds,
            "characters": UsageRow.characters + statement.excluded.characters,
            "updated_at": statement.excluded.updated_at,
        },
    ).returning(UsageRow.jobs, UsageRow.media_seconds, UsageRow.reserved_seconds, UsageRow.characters)


_ADD = {True: _add_statement(pg_insert), False: _add_statement(sqlite_insert)}  # built once per dialect


def add_usage(
    tx: Tx,
    user_id: str,
    period: str,
    *,
    media_seconds: float = 0.0,
    reserved_seconds: float = 0.0,
    characters: int = 0,
) -> Usage:
    """Add to a user's usage of `period` (one upsert, which holds their row until the commit); the
    usage after it."""
    row = tx.conn.execute(
        _ADD[tx.postgres],
        {
            "m_user": user_id,
            "m_period": period,
            "m_media": media_seconds,
            "m_reserved": reserved_seconds,
            "m_chars": characters,
            "m_at": tx.now,
        },
    ).one()
    return Usage(
        period=period,
        jobs=int(row.jobs),
        media_seconds=float(row.media_seconds),
        reserved_seconds=float(row.reserved_seconds),
        characters=int(row.characters),
    )


def _figure(meter: tuple[str, str] | None, stage: str, output: Mapping[str, Any]) -> float | None:
    if meter is None or meter[0] != stage:
        return None
    value = output.get(meter[1])
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def limits_of(tx: Tx, quotas: Quotas | None, owner_id: str) -> TierLimits | None:
    """The owner's tier's limits (None: metered, never refused)."""
    if quotas is None:
        return None
    tier = tx.conn.execute(select(UserRow.tier).where(UserRow.id == owner_id)).scalar_one_or_none()
    return None if tier is None else quotas[Tier(tier)]


def meter_stage(
    tx: Tx,
    *,
    job_id: uuid.UUID,
    owner_id: str,
    measured: bool,
    pipeline: Pipeline,
    stage: str,
    output: Mapping[str, Any],
    limits: Callable[[], TierLimits | None],
) -> QuotaVerdict:
    """Meter what `stage`'s output measured, if its pipeline meters it there: reserve the media's
    seconds (unless the job's media was `measured` already) and count the text's characters. A
    figure past the owner's quota (`limits()`, asked only when there is something to meter; None:
    metered, never refused) writes nothing and is refused (the verdict says why)."""
    seconds = None if measured else _figure(pipeline.meter, stage, output)
    characters = _figure(pipeline.text_meter, stage, output)
    if seconds is None and characters is None:
        return QuotaVerdict(allowed=True)
    period = period_of(tx.now)
    quota = limits()
    if quota is not None:
        usage = add_usage(tx, owner_id, period)  # takes the row lock before reading
        verdicts = [
            check_media_reservation(quota, usage, seconds or 0.0, tx.now) if seconds is not None else None,
            check_characters(quota, usage, int(characters or 0), tx.now) if characters is not None else None,
        ]
        for verdict in verdicts:
            if verdict is not None and not verdict.allowed:
                return verdict
    add_usage(tx, owner_id, period, reserved_seconds=seconds or 0.0, characters=int(characters or 0))
    if seconds is not None:
        tx.reserved.add(job_id)
        tx.conn.execute(
            update(JobRow)
            .where(JobRow.id == job_id)
            .values(media_seconds=seconds, reserved_seconds=seconds, charged_at=tx.now)
        )
    return QuotaVerdict(allowed=True)


def refusal(verdict: QuotaVerdict) -> ErrorInfo:
    """How a job refused by a quota fails (permanent this period: a retry next period may pass)."""
    return ErrorInfo(code="quota_exceeded", message=verdict.message, retryable=False)


def meter_or_refuse(tx: Tx, **meter: Any) -> None:
    """`meter_stage`, raising TooManyRequests (429, rolls the transaction back) when refused: for a
    re-run, whose reused stages are metered as it is written."""
    verdict = meter_stage(tx, **meter)
    if not verdict.allowed:
        raise TooManyRequests(verdict.message, code="quota_exceeded", retry_after=verdict.retry_after)


def settle(tx: Tx, job_id: uuid.UUID, *, known: Row[Any] | None = None) -> None:
    """The job ends: what its media reserved is charged (in the period it was reserved in).
    `known`: the job's row as locked at the start of this transaction; when it holds no reservation
    and this transaction reserved none, there is nothing to settle and no statement is sent (the
    common case: a job ending is on the hot path)."""
    if known is not None and known._mapping.get("reserved_seconds", 0) is None and job_id not in tx.reserved:
        return
    row = tx.conn.execute(
        select(JobRow.owner_id, JobRow.reserved_seconds, JobRow.charged_at).where(JobRow.id == job_id)
    ).first()
    if row is None or row.reserved_seconds is None:
        return
    seconds = float(row.reserved_seconds)
    at: datetime = row.charged_at or tx.now
    add_usage(tx, row.owner_id, period_of(at), media_seconds=seconds, reserved_seconds=-seconds)
    tx.conn.execute(update(JobRow).where(JobRow.id == job_id).values(reserved_seconds=None))


__all__ = ["Quotas", "add_usage", "limits_of", "meter_or_refuse", "meter_stage", "refusal", "settle"]
