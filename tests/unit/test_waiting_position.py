"""`waiting.position` counts only the caller's own work (issue 23, finding 16): a count of every
user's stages queued ahead told a user how much the others submit (TestClient, SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from helpers.clock import FakeClock
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.engines import Engines
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.wiring import Services, build_services

JOBS = "/api/v1/jobs"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def services(tmp_path: Path, sqlite_url: str, clock: FakeClock) -> Iterator[Services]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url)
    built = build_services(settings, InMemoryPublisher(), engines=Engines(), clock=clock)
    yield built
    built.close()


def headers(services: Services, name: str) -> dict[str, str]:
    made = services.store.users.create_user(name)
    return {"Authorization": f"Bearer {services.store.users.create_key(made.id)[1]}"}


def test_the_lane_position_counts_only_the_callers_own_stages(services: Services, clock: FakeClock) -> None:
    body = {"pipeline": "transcribe", "source": "https://example.com/a.mp3"}
    with TestClient(create_app(services.settings, services=services, maintenance=False)) as api:
        bob, alice = headers(services, "bob"), headers(services, "alice")
        for _ in range(2):  # free tier: two stages in flight each, so both of bob's are queued
            assert api.post(JOBS, json=body, headers=bob).status_code == 202
            clock.advance(1)
        mine = []
        for _ in range(2):
            mine.append(api.post(JOBS, json=body, headers=alice).json()["id"])
            clock.advance(1)
        first, second = (api.get(f"{JOBS}/{job}", headers=alice).json()["waiting"] for job in mine)
    # Bob's two queued ingests are ahead in the same queue; alice is told only about her own.
    assert (first["reason"], first["position"]) == ("no_worker", 1)
    assert (second["reason"], second["position"]) == ("no_worker", 2)
