"""Many rows in few statements: the writes of a batch (hundreds of jobs and their stages)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert

from .tables import Base
from .tx import Tx


def bulk_insert(tx: Tx, table: type[Base], rows: Sequence[dict[str, Any]], per_statement: int) -> None:
    """Insert `rows` as multi-row `INSERT ... VALUES (...), (...), ...` statements of at most
    `per_statement` rows each (an executemany would send one statement per row on SQLite)."""
    for start in range(0, len(rows), per_statement):
        tx.conn.execute(insert(table).values(list(rows[start : start + per_statement])))


__all__ = ["bulk_insert"]
