"""Counting the SQL statements and commits an engine sends, with SQLAlchemy's event hooks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event

from mediajobs.store.diagnostics import commits_on_its_own


@dataclass
class Counts:
    statements: int = 0
    commits: int = 0

    def as_tuple(self) -> tuple[int, int]:
        return self.statements, self.commits


@contextmanager
def counting(engine: Engine) -> Iterator[Counts]:
    """Every statement (round trip: executemany counts once) and commit sent inside the block (a
    write in autocommit counts as a commit)."""
    counts = Counts()

    def on_statement(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        counts.statements += 1
        counts.commits += commits_on_its_own(conn, statement)  # a write in autocommit

    def on_commit(*_: Any) -> None:
        counts.commits += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_commit)
