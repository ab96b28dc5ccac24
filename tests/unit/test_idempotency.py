"""An Idempotency-Key names one job for its time to live, and is free again afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from mediajobs.domain import LOCAL_USER_ID, get_pipeline
from mediajobs.errors import Conflict
from mediajobs.store import JobStore, create_db_engine


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(sqlite_url: str, clock: Clock) -> Iterator[JobStore]:
    engine = create_db_engine(sqlite_url)
    yield JobStore(engine, clock=clock, idempotency_ttl=timedelta(hours=24))
    engine.dispose()


def _submit(store: JobStore, source: str, key: str = "key-1") -> tuple[str, bool]:
    job, created = store.create_job(
        owner_id=LOCAL_USER_ID, pipeline=get_pipeline("transcribe"), source=source, options={},
        idempotency_key=key, request_hash=source,
    )  # fmt: skip
    return str(job.id), created


def test_a_key_replays_within_its_ttl_and_is_reusable_after_it(store: JobStore, clock: Clock) -> None:
    first, created = _submit(store, "https://example.com/a.mp3")
    assert created
    clock.now += timedelta(hours=23)
    assert _submit(store, "https://example.com/a.mp3") == (first, False)
    with pytest.raises(Conflict):
        _submit(store, "https://example.com/b.mp3")

    clock.now += timedelta(hours=2)  # 25 h after the first submit: the key is free again
    second, created = _submit(store, "https://example.com/b.mp3")
    assert created
    assert second != first
    assert _submit(store, "https://example.com/b.mp3") == (second, False)
    assert store.get_job(uuid.UUID(first)).source == "https://example.com/a.mp3"  # untouched
