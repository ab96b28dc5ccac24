"""Fixtures shared by the unit tests: a hand-moved clock and a store on SQLite that uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.clock import FakeClock
from mediajobs.pipelines import shipped_pipelines
from mediajobs.store import JobStore, create_db_engine


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(sqlite_url: str, clock: FakeClock) -> Iterator[JobStore]:
    engine = create_db_engine(sqlite_url)
    yield JobStore(engine, clock=clock, pipelines=shipped_pipelines(noop=True))
    engine.dispose()
