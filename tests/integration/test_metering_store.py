"""Metering on PostgreSQL and SQLite (store/metering.py): a job's media is reserved against the monthly
quota when it is measured, the stages after it run only if it fits, and the reservation is settled
when the job ends; the text a translate or synthesize job reads counts against the characters quota.

Issue 23, finding 5: the media quota was checked before a submit and charged after `normalize`, so 4
submits of a 50-minute file on a 60-minute plan ran 200 minutes."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.settings import make_settings
from mediajobs.domain import Job, JobStatus, StageStatus
from mediajobs.pipelines import get_pipeline, shipped_pipelines
from mediajobs.store import Claim, JobStore, create_db_engine

LIMITS = {"free": {"monthly_media_seconds": 3600, "monthly_characters": 1000, "monthly_jobs": None}}
FIFTY_MINUTES = 3000.0


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    url = request.getfixturevalue("pg_url" if request.param == "postgresql" else "sqlite_url")
    quotas = make_settings(tmp_path, MEDIAJOBS_TIER_LIMITS=LIMITS).tier_limits()
    engine = create_db_engine(url)
    yield JobStore(engine, pipelines=shipped_pipelines(noop=True), quotas=quotas)
    engine.dispose()


@pytest.fixture
def alice(store: JobStore) -> str:
    return store.users.create_user("alice").id


def submit(store: JobStore, owner: str, pipeline: str = "transcribe") -> uuid.UUID:
    source = "https://example.com/a.mp3" if pipeline == "transcribe" else "upload://" + str(uuid.uuid4())
    job, _ = store.jobs.create_job(owner_id=owner, pipeline=get_pipeline(pipeline), source=source, options={})
    return job.id


def claim(store: JobStore, job_id: uuid.UUID, stage: str) -> Claim:
    taken = store.stages.claim_stage(job_id, stage, worker="w", lease_seconds=30)
    assert isinstance(taken, Claim), taken
    return taken


def run(store: JobStore, job_id: uuid.UUID, stage: str, output: dict[str, Any] | None = None) -> Job:
    return store.stages.complete_stage(claim(store, job_id, stage), output or {})


def measured(store: JobStore, job_id: uuid.UUID, seconds: float = FIFTY_MINUTES) -> Job:
    """ingest, then normalize measuring `seconds` of media (as a worker's would)."""
    run(store, job_id, "ingest")
    return run(store, job_id, "normalize", {"duration": seconds, "audio_key": "k"})


def stage_status(job: Job, name: str) -> StageStatus:
    return next(s.status for s in job.stages if s.name == name)


def test_four_long_files_on_a_small_quota_run_only_as_many_as_fit(store: JobStore, alice: str) -> None:
    jobs = [submit(store, alice) for _ in range(4)]
    ended = [measured(store, job) for job in jobs]
    refused = [j for j in ended if j.status is JobStatus.FAILED]
    assert len(refused) == 3  # before: all four went on to be transcribed, 200 of 60 minutes
    for job in refused:
        assert job.error is not None
        assert job.error.code == "quota_exceeded"
        assert "50.0 minutes do not fit; 0.0 used and 50.0 reserved" in job.error.message
        assert stage_status(job, "normalize") is StageStatus.FAILED  # a retry measures it again
        assert stage_status(job, "transcribe") is StageStatus.SKIPPED  # never runs
    usage = store.users.usage(alice)
    assert (usage.media_seconds, usage.reserved_seconds) == (0.0, FIFTY_MINUTES)

    (going,) = [j for j in ended if j.status is not JobStatus.FAILED]
    assert stage_status(going, "transcribe") is StageStatus.QUEUED
    done = run(store, going.id, "transcribe", {"text": "hello"})
    assert done.status is JobStatus.SUCCEEDED
    usage = store.users.usage(alice)
    assert (usage.media_seconds, usage.reserved_seconds) == (FIFTY_MINUTES, 0.0)  # settled


def test_concurrent_measurements_cannot_all_pass_on_the_same_room(store: JobStore, alice: str) -> None:
    jobs = [submit(store, alice) for _ in range(4)]
    for job in jobs:
        run(store, job, "ingest")
    claims = [claim(store, job, "normalize") for job in jobs]
    start = threading.Barrier(len(claims))
    ended: list[Job] = []

    def complete(taken: Claim) -> None:
        start.wait()
        ended.append(store.stages.complete_stage(taken, {"duration": 1000.0, "audio_key": "k"}))

    threads = [threading.Thread(target=complete, args=(c,)) for c in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(ended) == 4
    assert sorted(j.status is JobStatus.FAILED for j in ended) == [False, False, False, True]
    assert store.users.usage(alice).reserved_seconds == 3000.0


def test_a_cancelled_or_failed_job_is_charged_what_it_reserved(store: JobStore, alice: str) -> None:
    job = submit(store, alice)
    measured(store, job, 600.0)
    store.jobs.request_cancel(job)  # transcribe queued, not running: cancelled at once
    usage = store.users.usage(alice)
    assert (usage.media_seconds, usage.reserved_seconds) == (600.0, 0.0)
    assert store.jobs.get_job(job).status is JobStatus.CANCELLED


def test_a_job_refused_by_the_quota_measures_again_when_retried(store: JobStore, alice: str) -> None:
    first, second = submit(store, alice), submit(store, alice)
    measured(store, first)
    assert measured(store, second).status is JobStatus.FAILED
    retried = store.jobs.retry_job(second)  # the gate let it through: the quota is not spent yet
    assert stage_status(retried, "normalize") is StageStatus.QUEUED  # not skipped to transcribe
    again = run(store, second, "normalize", {"duration": FIFTY_MINUTES, "audio_key": "k"})
    assert again.status is JobStatus.FAILED
    assert again.error is not None
    assert again.error.code == "quota_exceeded"
    third = submit(store, alice)
    assert measured(store, third, 600.0).status is JobStatus.RUNNING  # what is left still fits


def test_the_hourly_reconciliation_keeps_reservations_apart(store: JobStore, alice: str) -> None:
    job = submit(store, alice)
    measured(store, job)
    store.periodic.reconcile_usage(store.db.clock())
    usage = store.users.usage(alice)
    assert (usage.media_seconds, usage.reserved_seconds) == (0.0, FIFTY_MINUTES)


def test_text_past_the_characters_quota_fails_before_it_is_spoken(store: JobStore, alice: str) -> None:
    job = submit(store, alice, "synthesize")
    read = run(store, job, "read_text", {"cues_key": "k", "cues": 1, "characters": 1500, "timed": False})
    assert read.status is JobStatus.FAILED
    assert read.error is not None
    assert read.error.code == "quota_exceeded"
    assert "1,500 characters do not fit; 0 used of 1,000" in read.error.message
    assert stage_status(read, "synthesize") is StageStatus.SKIPPED
    assert store.users.usage(alice).characters == 0

    small = submit(store, alice, "translate")
    assert run(store, small, "read_text", {"cues_key": "k", "characters": 600}).status is JobStatus.RUNNING
    assert store.users.usage(alice).characters == 600
    over = submit(store, alice, "synthesize")
    assert run(store, over, "read_text", {"cues_key": "k", "characters": 401}).status is JobStatus.FAILED


def test_speech_is_metered_against_the_media_quota(store: JobStore, alice: str) -> None:
    job = submit(store, alice, "synthesize")
    run(store, job, "read_text", {"cues_key": "k", "characters": 100})
    long = run(store, job, "synthesize", {"duration": 4000.0, "audio_key": "s"})
    assert long.status is JobStatus.FAILED  # 67 minutes of speech on a 60-minute plan
    assert long.error is not None
    assert long.error.code == "quota_exceeded"
    assert store.users.usage(alice).media_held == 0.0

    short = submit(store, alice, "synthesize")
    run(store, short, "read_text", {"cues_key": "k", "characters": 100})
    assert run(store, short, "synthesize", {"duration": 90.0}).status is JobStatus.SUCCEEDED
    usage = store.users.usage(alice)
    assert (usage.media_seconds, usage.reserved_seconds, usage.characters) == (90.0, 0.0, 200)
