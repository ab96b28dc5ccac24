"""Retries and re-runs pass the submit's gate (issue 23, finding 6): the monthly quota, checked exactly
in the write's own transaction, and the per-user submit rate limit (TestClient, SQLite)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.engines import Engines
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.store import Claim
from mediajobs.store.users import charge
from mediajobs.wiring import Services, build_services

JOBS = "/api/v1/jobs"
LIMITS = {"free": {"monthly_media_seconds": 60, "monthly_jobs": 50, "submits_per_minute": 5}}


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


def submit(api: TestClient, headers: dict[str, str]) -> str:
    body = {"pipeline": "transcribe", "source": "https://example.com/a.mp3"}
    answer = api.post(JOBS, json=body, headers=headers)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def error_code(answer: Any) -> tuple[int, str | None]:
    return answer.status_code, (answer.json().get("error") or {}).get("code")


def measured(services: Services, job_id: str, seconds: float) -> None:
    """ingest and normalize run; normalize charges the media's length (as a worker's would)."""
    for stage, output in (("ingest", {}), ("normalize", {"duration": seconds, "audio_key": "k"})):
        claim = services.store.stages.claim_stage(uuid.UUID(job_id), stage, worker="w", lease_seconds=30)
        assert isinstance(claim, Claim)
        services.store.stages.complete_stage(claim, output)


def test_a_retry_past_the_media_quota_is_refused(
    api: TestClient, services: Services, alice: dict[str, str]
) -> None:
    """The issue's case: a user at 200 of 60 minutes retried a 50-minute job and it ran."""
    job = submit(api, alice)
    measured(services, job, 60.0)  # 60 s of 60 reserved (fits), charged at the cancel: spent
    assert api.post(f"{JOBS}/{job}/cancel", headers=alice).status_code == 200
    refused = api.post(f"{JOBS}/{job}/retry", headers=alice)
    assert error_code(refused) == (429, "quota_exceeded")
    assert int(refused.headers["retry-after"]) >= 1
    assert api.get(f"{JOBS}/{job}", headers=alice).json()["status"] == "cancelled"  # not re-queued


def test_the_retry_quota_is_exact_when_the_key_check_is_remembered(
    api: TestClient, services: Services, alice: dict[str, str]
) -> None:
    """The key check remembered 0 minutes used; the retry's own transaction reads the real usage."""
    job = submit(api, alice)
    assert api.post(f"{JOBS}/{job}/cancel", headers=alice).status_code == 200
    alice_id = services.store.users.get_user("alice").id
    with services.store.db.tx() as tx:  # counted elsewhere (another job's normalize, another process)
        charge(tx, alice_id, media_seconds=3000.0)
    assert error_code(api.post(f"{JOBS}/{job}/retry", headers=alice)) == (429, "quota_exceeded")
    assert error_code(api.post(f"{JOBS}/{job}/rerun", json={"from_stage": "ingest"}, headers=alice)) == (
        429,
        "quota_exceeded",
    )
    assert len(api.get(JOBS, headers=alice).json()["jobs"]) == 1  # the refused re-run wrote nothing


def test_retries_count_in_the_submit_rate_limit(api: TestClient, alice: dict[str, str]) -> None:
    job = submit(api, alice)  # 1 of 5 this minute
    answers = []
    for _ in range(5):
        assert api.post(f"{JOBS}/{job}/cancel", headers=alice).status_code in (200, 409)
        answers.append(api.post(f"{JOBS}/{job}/retry", headers=alice))
    assert [a.status_code for a in answers] == [202] * 4 + [429]
    assert error_code(answers[4]) == (429, "rate_limited")
    assert answers[0].headers["ratelimit-remaining"] == "3"
    assert error_code(api.post(f"{JOBS}/{job}/rerun", json={"from_stage": "ingest"}, headers=alice)) == (
        429,
        "rate_limited",
    )


def test_a_rerun_checks_its_merged_options_like_a_submit(
    api: TestClient, services: Services, alice: dict[str, str]
) -> None:
    """Issue 23, finding 14: a re-run asking for what no engine here can do (the default tiny.en model
    and French) was accepted and charged, then failed in a worker; now it is refused first."""
    job = submit(api, alice)
    assert api.post(f"{JOBS}/{job}/cancel", headers=alice).status_code == 200
    refused = api.post(
        f"{JOBS}/{job}/rerun", json={"from_stage": "ingest", "options": {"language": "fr"}}, headers=alice
    )
    assert error_code(refused) == (422, "unsupported_language")
    assert services.store.users.usage(services.store.users.get_user("alice").id).jobs == 1  # not charged
    assert len(api.get(JOBS, headers=alice).json()["jobs"]) == 1
    accepted = api.post(
        f"{JOBS}/{job}/rerun", json={"from_stage": "ingest", "options": {"language": "en"}}, headers=alice
    )
    assert accepted.status_code == 202, accepted.text
