"""Many rows in few statements: the writes of a batch (hundreds of jobs, their stages and events).

On PostgreSQL one `INSERT ... SELECT * FROM unnest(:col1, :col2, ...)` per table: one array parameter
per column, so the statement is the same text whatever the number of rows (compiled once, cached by
SQLAlchemy and psycopg), where a multi-row `VALUES` list has to be compiled and parsed again with
its thousands of parameters each time (about 1 s of a 1,000-item batch). On SQLite, multi-row
`INSERT ... VALUES (...), (...)` statements (an executemany would send one statement per row).
"""

from __future__ import annotations

import functools
import json
import typing
import uuid
from collections.abc import Sequence
from datetime import datetime
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
    if not tx.postgres:
        return _values_inserts(tx, target, rows, returning, per_statement)
    statement, params = _unnest_insert(tx, target, rows, tuple(returning))
    result = tx.conn.execute(statement, params)
    return list(result.all()) if returning else []


def _values_inserts(
    tx: Tx, target: Table, rows: Sequence[dict[str, Any]], returning: Sequence[str], per_statement: int
) -> list[Any]:
    found: list[Any] = []
    for start in range(0, len(rows), per_statement):
        statement = insert(target).values(list(rows[start : start + per_statement]))
        if returning:
            found += tx.conn.execute(statement.returning(*[target.c[name] for name in returning])).all()
        else:
            tx.conn.execute(statement)
    return found


def _unnest_insert(
    tx: Tx, target: Table, rows: Sequence[dict[str, Any]], returning: tuple[str, ...]
) -> tuple[Insert, dict[str, Any]]:
    """The statement and its parameters: a column whose value is the same in every row (the batch's
    id, owner, times...) is one parameter, the others one array each (psycopg dumps arrays element by
    element in Python: the fewer the cheaper)."""
    names = tuple(rows[0])
    json_names = _json_columns(target, tx.conn.dialect)
    params: dict[str, Any] = {}
    same: list[str] = []
    for name in names:
        values = [row[name] for row in rows]
        if name in json_names:  # sent as text, cast in the SELECT
            values = [None if v is None else json.dumps(v) for v in values]
        first = values[0]
        if isinstance(first, str | int | float | uuid.UUID | datetime | None) and all(
            v == first and type(v) is type(first) for v in values
        ):
            same.append(name)
            params[f"one_{name}"] = first
        else:
            params[f"many_{name}"] = values
    return _statement(target, names, frozenset(same), json_names, returning), params


def _json_columns(target: Table, dialect: Any) -> frozenset[str]:
    return frozenset(c.name for c in target.columns if isinstance(c.type.dialect_impl(dialect), JSON))


@functools.lru_cache(maxsize=64)
def _statement(
    target: Table,
    names: tuple[str, ...],
    same: frozenset[str],
    json_names: frozenset[str],
    returning: tuple[str, ...],
) -> Insert:
    """Built once for each shape (SQLAlchemy then finds its compiled form in its cache)."""
    many = [n for n in names if n not in same]
    arrays = [
        bindparam(f"many_{n}", type_=ARRAY(Text() if n in json_names else target.c[n].type)) for n in many
    ]
    source = func.unnest(*arrays).table_valued(*many).render_derived(name="given")
    picked: list[ColumnElement[Any]] = []
    for name in names:
        if name in same:
            value: ColumnElement[Any] = bindparam(
                f"one_{name}", type_=Text() if name in json_names else target.c[name].type
            )
        else:
            value = source.c[name]
        picked.append(cast(value, target.c[name].type) if name in json_names else value)
    statement = insert(target).from_select(list(names), select(*picked).select_from(source))
    return statement.returning(*[target.c[n] for n in returning]) if returning else statement


__all__ = ["ROWS_PER_STATEMENT", "bulk_insert"]
