"""Many rows in few statements: the writes of a batch (hundreds of jobs, their stages and events).

On PostgreSQL one `INSERT ... SELECT * FROM unnest(:col1, :col2, ...)` per table: one array parameter
per column, so the statement is the same text whatever the number of rows (compiled once, cached by
SQLAlchemy and psycopg), where a multi-row `VALUES` list has to be compiled and parsed again with
its thousands of parameters each time (about 1 s of a 1,000-item batch). On SQLite, multi-row
`INSERT ... VALUES (...), (...)` statements (an executemany would send one statement per row).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, ColumnElement, Insert, Table, Text, bindparam, cast, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY

from .tables import Base
from .tx import Tx

ROWS_PER_STATEMENT = 500  # SQLite's multi-row inserts: this many rows (well under its parameter limit)


def bulk_insert(
    tx: Tx,
    table: type[Base],
    rows: Sequence[dict[str, Any]],
    *,
    returning: Sequence[str] = (),
    per_statement: int = ROWS_PER_STATEMENT,
) -> list[Any]:
    """Insert `rows` (dicts with the same keys) in as few statements as the database allows; the
    `returning` columns of the rows written, in no particular order."""
    if not rows:
        return []
    target = typing.cast(Table, table.__table__)
    if tx.postgres:
        statements = [_unnest_insert(tx, target, rows)]
    else:
        statements = [
            insert(target).values(list(rows[start : start + per_statement]))
            for start in range(0, len(rows), per_statement)
        ]
    found: list[Any] = []
    for statement in statements:
        if returning:
            columns = [target.c[name] for name in returning]
            found += tx.conn.execute(statement.returning(*columns)).all()
        else:
            tx.conn.execute(statement)
    return found


def _unnest_insert(tx: Tx, target: Table, rows: Sequence[dict[str, Any]]) -> Insert:
    names = list(rows[0])
    dialect = tx.conn.dialect
    arrays = []
    as_json: set[str] = set()
    for name in names:
        column_type = target.c[name].type
        values = [row[name] for row in rows]
        if isinstance(column_type.dialect_impl(dialect), JSON):  # sent as text, cast in the SELECT
            as_json.add(name)
            values = [None if v is None else json.dumps(v) for v in values]
            arrays.append(bindparam(f"unnest_{name}", values, type_=ARRAY(Text())))
        else:
            arrays.append(bindparam(f"unnest_{name}", values, type_=ARRAY(column_type)))
    source = func.unnest(*arrays).table_valued(*names).render_derived(name="given")
    picked: list[ColumnElement[Any]] = [
        cast(source.c[name], target.c[name].type) if name in as_json else source.c[name] for name in names
    ]
    return insert(target).from_select(names, select(*picked).select_from(source))


__all__ = ["ROWS_PER_STATEMENT", "bulk_insert"]
