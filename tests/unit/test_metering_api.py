"""Text metering through the API (issue 23, finding 2): a text pipeline's inline text is refused at
the submit when it alone passes the characters left this month; /api/v1/me shows the figures."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.domain.tenancy import period_of
from mediajobs.engines import Engines
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.store import Claim
from mediajobs.store.metering import add_usage
from mediajobs.wiring import Services, build_services

JOBS = "/api/v1/jobs"
LIMITS = {"free": {"monthly_characters": 1000, "monthly_media_seconds": 600, "submits_per_minute": None}}


@pytest.fixture
def services(tmp_path: Path, sqlite_url: str) -> Iterator[Services]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_TIER_LIMITS=LIMITS)
    built = build_services(settings, InMemoryPublisher(), engines=Engines())
    yield built
    built.close()


@pytest.fixture
def api(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, services=services, maintenance=False)) as client:
        yield client


@pytest.fixture
def alice(services: Services) -> dict[str, str]:
    made = services.store.users.create_user("alice")
    return {"Authorization": f"Bearer {services.store.users.create_key(made.id)[1]}"}


def error_code(answer: Any) -> tuple[int, str | None]:
    return answer.status_code, (answer.json().get("error") or {}).get("code")


OPTIONS = {"synthesize": {"language": "en"}, "translate": {"source_language": "en", "target_language": "es"}}


@pytest.mark.parametrize("pipeline", ["synthesize", "translate"])
def test_a_text_past_the_characters_quota_is_refused_at_the_submit(
    api: TestClient, alice: dict[str, str], pipeline: str
) -> None:
    body = {"pipeline": pipeline, "text": "a" * 1001, "options": OPTIONS[pipeline]}
    refused = api.post(JOBS, json=body, headers=alice)
    assert error_code(refused) == (429, "quota_exceeded")  # before: 202, and 0 minutes charged
    assert "1,001 characters do not fit; 0 used of 1,000" in refused.json()["error"]["message"]
    assert int(refused.headers["retry-after"]) >= 1
    assert api.get(JOBS, headers=alice).json()["jobs"] == []  # nothing written
    assert api.post(JOBS, json={**body, "text": "a" * 1000}, headers=alice).status_code == 202  # it fits


def test_a_batch_of_texts_is_refused_when_they_pass_the_quota_together(
    api: TestClient, alice: dict[str, str]
) -> None:
    items = [{"text": "b" * 600}, {"text": "c" * 600}]
    body = {"pipeline": "synthesize", "options": {"language": "en"}, "items": items}
    assert error_code(api.post("/api/v1/batches", json=body, headers=alice)) == (429, "quota_exceeded")


def test_me_shows_characters_and_reserved_media(
    api: TestClient, services: Services, alice: dict[str, str]
) -> None:
    alice_id = services.store.users.get_user("alice").id
    job = api.post(
        JOBS, json={"pipeline": "transcribe", "source": "https://example.com/a.mp3"}, headers=alice
    )
    job_id = uuid.UUID(job.json()["id"])
    for stage, output in (("ingest", {}), ("normalize", {"duration": 90.0, "audio_key": "k"})):
        claim = services.store.stages.claim_stage(job_id, stage, worker="w", lease_seconds=30)
        assert isinstance(claim, Claim)
        services.store.stages.complete_stage(claim, output)
    with services.store.db.tx() as tx:  # a translate job's read_text, elsewhere
        add_usage(tx, alice_id, period_of(tx.now), characters=250)
    me = api.get("/api/v1/me", headers=alice).json()
    assert me["limits"]["monthly_characters"] == 1000
    assert me["limits"]["monthly_media_minutes"] == 10
    usage = me["usage"]
    assert (usage["media_minutes"], usage["reserved_media_minutes"], usage["characters"]) == (0.0, 1.5, 250)
    assert api.post(f"{JOBS}/{job_id}/cancel", headers=alice).status_code == 200
    usage = api.get("/api/v1/me", headers=alice).json()["usage"]
    assert (usage["media_minutes"], usage["reserved_media_minutes"]) == (1.5, 0.0)  # settled at its end


def test_a_rerun_that_reuses_the_measured_media_reserves_it_again(
    api: TestClient, services: Services, alice: dict[str, str]
) -> None:
    """A re-run from `transcribe` reuses `normalize` (it does not run again), so its media is reserved
    as the re-run is written: past the quota the re-run is 429 and nothing is written."""
    job = api.post(
        JOBS, json={"pipeline": "transcribe", "source": "https://example.com/a.mp3"}, headers=alice
    )
    job_id = uuid.UUID(job.json()["id"])
    for stage, output in (("ingest", {}), ("normalize", {"duration": 250.0, "audio_key": "k"})):
        claim = services.store.stages.claim_stage(job_id, stage, worker="w", lease_seconds=30)
        assert isinstance(claim, Claim)
        services.store.stages.complete_stage(claim, output)
    assert api.post(f"{JOBS}/{job_id}/cancel", headers=alice).status_code == 200  # 250 s charged
    rerun = {"from_stage": "transcribe"}
    assert api.post(f"{JOBS}/{job_id}/rerun", json=rerun, headers=alice).status_code == 202  # 500 of 600
    usage = api.get("/api/v1/me", headers=alice).json()["usage"]
    assert (usage["media_minutes"], usage["reserved_media_minutes"]) == (4.167, 4.167)
    refused = api.post(f"{JOBS}/{job_id}/rerun", json=rerun, headers=alice)
    assert error_code(refused) == (429, "quota_exceeded")  # before: 202, 750 s of 600
    assert len(api.get(JOBS, headers=alice).json()["jobs"]) == 2
