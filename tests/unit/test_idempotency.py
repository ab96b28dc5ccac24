"""An Idempotency-Key names one job for its time to live, and is free again afterwards."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from helpers.clock import FakeClock as Clock
from mediajobs.domain import LOCAL_USER_ID
from mediajobs.errors import Conflict
from mediajobs.pipelines import get_pipeline
from mediajobs.store import JobStore


def _submit(store: JobStore, source: str, key: str = "key-1") -> tuple[str, bool]:
    job, created = store.jobs.create_job(
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
    assert store.jobs.get_job(uuid.UUID(first)).source == "https://example.com/a.mp3"  # untouched


def test_the_listing_finds_a_keys_job_however_old_until_the_key_names_a_new_one(
    store: JobStore, clock: Clock
) -> None:
    first, _ = _submit(store, "https://example.com/a.mp3", key="watch-1")
    _submit(store, "https://example.com/b.mp3", key="watch-2")

    def found(key: str) -> list[str]:
        return [str(j.id) for j in store.jobs.list_jobs(owner_id=LOCAL_USER_ID, idempotency_key=key).jobs]

    assert found("watch-1") == [first]
    clock.now += timedelta(days=400)  # far past the TTL: the key still names its job
    assert found("watch-1") == [first]
    assert found("watch-3") == []
    second, created = _submit(store, "https://example.com/c.mp3", key="watch-1")  # the key names a new job
    assert created
    assert found("watch-1") == [second]
