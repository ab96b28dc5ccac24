"""Hooks (hooks/base.py) see every event of a job's life with what a metric or a log line needs:
process start and stop, submit, each published message, each stage's start, end, retry and lost
lease, the job's end. Through the API in-process, the store on SQLite and the in-memory broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from helpers.auth import authorize, user_with_key
from helpers.clock import FakeClock
from helpers.hooks import Recorder
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.domain import Tier
from mediajobs.engines import Engines
from mediajobs.hooks import (
    HookChain,
    Hooks,
    JobFinished,
    JobSubmitted,
    LostLease,
    MessagePublished,
    ProcessInfo,
    StageFinished,
    StageInfo,
)
from mediajobs.queue.maintenance import Maintenance
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.store import Claim
from mediajobs.wiring import Services, build_services

JOBS = "/api/v1/jobs"


class Broken(Hooks):
    def job_submitted(self, job: JobSubmitted) -> None:
        raise RuntimeError("a hook that fails must not fail the submit")


@dataclass
class World:
    services: Services
    publisher: InMemoryPublisher
    recorder: Recorder
    clock: FakeClock


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str, clock: FakeClock) -> Iterator[World]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_NOOP_PIPELINES=True)
    recorder = Recorder()
    publisher = InMemoryPublisher()
    services = build_services(
        settings, publisher, engines=Engines(), hooks=HookChain([Broken(), recorder]), clock=clock
    )
    yield World(services=services, publisher=publisher, recorder=recorder, clock=clock)
    services.close()


def test_a_job_through_the_api_tells_the_hooks_each_step_with_its_lane_queue_and_tier(world: World) -> None:
    services, recorder = world.services, world.recorder
    _, key = user_with_key(services.store, "paula", Tier.PRO)
    with TestClient(create_app(services.settings, services=services, maintenance=False)) as api:
        response = api.post(
            JOBS, json={"pipeline": "noop3", "source": "noop://x"}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 202, response.text
        world.publisher.drain(services.runner.run)
    names = recorder.names()
    assert names[0] == "process_started"
    assert names[-1] == "process_stopping"
    [api_process] = recorder.of("process_started")
    assert isinstance(api_process, ProcessInfo)
    assert api_process.role == "api"
    [submitted] = recorder.of("job_submitted")  # the failing hook before it did not stop it
    assert isinstance(submitted, JobSubmitted)
    assert (submitted.pipeline, submitted.lane, submitted.tier) == ("noop3", "express", "pro")
    prefix = services.settings.queue_prefix
    published = [m for m in recorder.of("message_published") if isinstance(m, MessagePublished)]
    assert [(m.stage, m.queue, m.pipeline) for m in published] == [
        ("first", f"{prefix}express.download", "noop3"),
        ("second", f"{prefix}express.media", "noop3"),
        ("third", f"{prefix}express.transcribe", "noop3"),
    ]
    started = [s for s in recorder.of("stage_started") if isinstance(s, StageInfo)]
    assert [(s.stage, s.kind, s.lane, s.queue, s.tier, s.attempt) for s in started] == [
        ("first", "download", "express", f"{prefix}express.download", "pro", 1),
        ("second", "media", "express", f"{prefix}express.media", "pro", 1),
        ("third", "transcribe", "express", f"{prefix}express.transcribe", "pro", 1),
    ]
    finished = [f for f in recorder.of("stage_finished") if isinstance(f, StageFinished)]
    assert [f.outcome for f in finished] == ["succeeded"] * 3
    [ended] = recorder.of("job_finished")
    assert isinstance(ended, JobFinished)
    assert (ended.status, ended.lane, ended.pipeline) == ("succeeded", "express", "noop3")
    assert ended.seconds is not None


def test_the_reaper_tells_the_hooks_of_a_lease_it_found_expired(world: World) -> None:
    services, recorder = world.services, world.recorder
    with TestClient(create_app(services.settings, services=services, maintenance=False)) as api:
        authorize(api, services.store)
        job_id = api.post(JOBS, json={"pipeline": "noop", "source": "noop://x"}).json()["id"]
    claim = services.store.stages.claim_stage(uuid.UUID(job_id), "noop", worker="gone:1", lease_seconds=5)
    assert isinstance(claim, Claim)
    world.clock.advance(6)  # its worker died: no renewal

    Maintenance(services.store, services.dispatcher, services.settings).run_once()

    [lost] = recorder.of("lease_lost")
    assert isinstance(lost, LostLease)
    assert (lost.job_id, lost.stage, lost.noticed_by, lost.requeued) == (
        uuid.UUID(job_id),
        "noop",
        "reaper",
        True,
    )
    # re-queued and published in that round, not left to the relay
    assert [m.stage for m in world.publisher.messages if str(m.job_id) == job_id] == ["noop", "noop"]
