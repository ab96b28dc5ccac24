"""Disabled endpoints: destinations whose receiver answered 410 Gone, per user (the Standard Webhooks
advice: stop sending there). Disabled in the transaction that settles that attempt
(`disable_endpoint`, from store/deliveries.py); looked up before every attempt and at submit; enabled
again by their owner."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mediajobs.domain.deliveries import DisabledEndpoint, destination_key
from mediajobs.errors import NotFound

from .tables import DisabledEndpointRow
from .tx import Database, Tx


def disable_endpoint(
    tx: Tx, *, owner_id: str, hook: str, destination: str, reason: str, delivery_id: int | None
) -> None:
    """Nothing more goes to `destination` for this user (already disabled: kept as it was)."""
    upsert = pg_insert if tx.postgres else sqlite_insert
    tx.conn.execute(
        upsert(DisabledEndpointRow)
        .values(
            id=f"ep_{secrets.token_hex(8)}",
            owner_id=owner_id,
            hook=hook,
            destination=destination,
            destination_key=destination_key(destination),
            disabled_at=tx.now,
            reason=reason[:2000],
            delivery_id=delivery_id,
        )
        .on_conflict_do_nothing(
            index_elements=[
                DisabledEndpointRow.owner_id,
                DisabledEndpointRow.hook,
                DisabledEndpointRow.destination_key,
            ]
        )
    )


class Endpoints:
    def __init__(self, db: Database) -> None:
        self._db = db

    def disabled(self, owner_id: str, hook: str, destination: str) -> DisabledEndpoint | None:
        """The record that `destination` is disabled for this user, if it is."""
        with self._db.read() as conn:
            row = conn.execute(
                select(DisabledEndpointRow.__table__).where(
                    DisabledEndpointRow.owner_id == owner_id,
                    DisabledEndpointRow.hook == hook,
                    DisabledEndpointRow.destination_key == destination_key(destination),
                )
            ).one_or_none()
        return None if row is None else _endpoint(row)

    def list_disabled(self, owner_id: str | None) -> list[DisabledEndpoint]:
        """A user's disabled endpoints (everybody's with None), most recent first."""
        query = select(DisabledEndpointRow.__table__)
        if owner_id is not None:
            query = query.where(DisabledEndpointRow.owner_id == owner_id)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(DisabledEndpointRow.disabled_at.desc())).all()
        return [_endpoint(r) for r in rows]

    def enable(self, endpoint_id: str, owner_id: str | None) -> DisabledEndpoint:
        """Send to it again (its record goes); NotFound unless it is one of `owner_id`'s (any, None)."""
        with self._db.tx() as tx:
            query = select(DisabledEndpointRow.__table__).where(DisabledEndpointRow.id == endpoint_id)
            if owner_id is not None:
                query = query.where(DisabledEndpointRow.owner_id == owner_id)
            row = tx.conn.execute(query).one_or_none()
            if row is None:
                raise NotFound(f"no disabled endpoint {endpoint_id[:40]!r}")
            tx.conn.execute(delete(DisabledEndpointRow).where(DisabledEndpointRow.id == endpoint_id))
        return _endpoint(row)


def _endpoint(row: Any) -> DisabledEndpoint:
    return DisabledEndpoint(
        id=row.id,
        owner_id=row.owner_id,
        hook=row.hook,
        destination=row.destination,
        disabled_at=row.disabled_at,
        reason=row.reason,
        delivery_id=row.delivery_id,
    )


__all__ = ["Endpoints", "disable_endpoint"]
