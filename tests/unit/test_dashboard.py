"""The dashboard through HTTP (TestClient, SQLite, in-memory broker): login and its cookie, CSRF,
who sees what, every page renders, retry all matching, and a paused lane holding admission."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.domain import ErrorInfo, Tier
from mediajobs.engines import Engines
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.wiring import Services, build_services

D = "/dashboard"


@pytest.fixture
def services(tmp_path: Path, sqlite_url: str) -> Iterator[Services]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_NOOP_PIPELINES=True)
    built = build_services(settings, InMemoryPublisher(), engines=Engines())
    yield built
    built.close()


@pytest.fixture
def app(services: Services) -> Any:
    return create_app(services.settings, services=services, maintenance=False)


def new_user(services: Services, name: str, *, admin: bool = False, tier: Tier = Tier.FREE) -> str:
    made = services.store.users.create_user(name, tier=tier, is_admin=admin)
    return services.store.users.create_key(made.id)[1]


def login(app: Any, key: str, **headers: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    response = client.post(f"{D}/login", data={"api_key": key}, headers=headers)
    assert response.status_code == 303, response.text
    return client


def csrf(client: TestClient, path: str = f"{D}/") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def submit(client: TestClient, key: str, **body: Any) -> str:
    response = client.post(
        "/api/v1/jobs",
        json={"pipeline": "noop3", "source": "noop://a", **body},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def fail(services: Services, job_id: str) -> None:
    """Claim the job's first stage and fail it for good."""
    store = services.store
    claim = store.stages.claim_stage(uuid.UUID(job_id), "first", worker="w", lease_seconds=30)
    store.stages.fail_attempt(claim, ErrorInfo(code="broken", message="broken"), retry_delay=None)  # type: ignore[arg-type]


def stage_status(services: Services, job_id: str, stage: str = "first") -> str:
    return services.store.jobs.get_job(uuid.UUID(job_id)).stage(stage).status.value


def test_pages_need_a_login_and_a_bad_key_is_refused(app: Any, services: Services) -> None:
    client = TestClient(app, follow_redirects=False)
    assert client.get(f"{D}/jobs").headers["location"] == f"{D}/login"
    assert client.post(f"{D}/login", data={"api_key": "mj_nope"}).status_code == 401
    assert client.post(f"{D}/lanes/standard/pause", data={"csrf": "x"}).status_code == 401


def test_the_session_cookie_is_httponly_strict_and_secure_behind_tls(app: Any, services: Services) -> None:
    key = new_user(services, "ops", admin=True)
    plain = TestClient(app, follow_redirects=False).post(f"{D}/login", data={"api_key": key})
    cookie = plain.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/dashboard" in cookie
    assert "secure" not in cookie
    assert key not in plain.headers["set-cookie"]  # the browser holds a session token, not the key
    tls = TestClient(app, follow_redirects=False).post(
        f"{D}/login", data={"api_key": key}, headers={"X-Forwarded-Proto": "https"}
    )
    assert "; secure" in tls.headers["set-cookie"].lower()
    cross = TestClient(app, follow_redirects=False).post(
        f"{D}/login", data={"api_key": key}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403


def test_every_post_needs_the_sessions_csrf_token(app: Any, services: Services) -> None:
    client = login(app, new_user(services, "ops", admin=True))
    assert client.post(f"{D}/lanes/standard/pause").status_code == 403
    assert client.post(f"{D}/lanes/standard/pause", data={"csrf": "forged"}).status_code == 403
    assert services.store.pauses.paused() == {}
    assert client.post(f"{D}/lanes/standard/pause", data={"csrf": csrf(client)}).status_code == 303
    assert set(services.store.pauses.paused()) == {"standard"}


def test_a_revoked_key_ends_its_session_and_logout_ends_it_too(app: Any, services: Services) -> None:
    key = new_user(services, "ops", admin=True)
    client = login(app, key)
    assert client.get(f"{D}/").status_code == 200
    services.store.users.revoke_key(key.split("_")[1])
    assert client.get(f"{D}/").status_code == 303
    other = login(app, new_user(services, "ops2", admin=True))
    assert other.post(f"{D}/logout", data={"csrf": csrf(other)}).status_code == 303
    assert other.get(f"{D}/").status_code == 303


def test_every_page_renders_for_an_admin(app: Any, services: Services) -> None:
    key = new_user(services, "ops", admin=True)
    client = login(app, key)
    job = submit(client, key)
    fail(services, submit(client, key))
    for path in ("/", "/jobs", "/jobs?status=queued&lane=standard&since=1h&q=a", f"/jobs/{job}", "/failed",
                 "/failed/retry-all", "/queues", "/workers", "/batches", "/users"):  # fmt: skip
        response = client.get(f"{D}{path}")
        assert response.status_code == 200, (path, response.text[:500])
        assert "script-src 'self'" in response.headers["content-security-policy"]
    assert client.get(f"{D}/jobs/{uuid.uuid4()}").status_code == 404
    assert client.get(f"{D}/static/dashboard.js").status_code == 200


def test_a_user_sees_only_their_own_jobs_and_no_operator_pages(app: Any, services: Services) -> None:
    alice, bob = new_user(services, "alice"), new_user(services, "bob")
    client = login(app, alice)
    mine, theirs = submit(client, alice), submit(client, bob)
    listed = client.get(f"{D}/jobs").text
    assert mine in listed
    assert theirs not in listed
    assert client.get(f"{D}/jobs/{theirs}").status_code == 404
    for page in ("/queues", "/workers", "/users"):
        assert client.get(f"{D}{page}").status_code == 403
    response = client.post(f"{D}/lanes/standard/pause", data={"csrf": csrf(client)})
    assert "Not paused" in response.headers["location"].replace("+", " ")
    assert services.store.pauses.paused() == {}


def test_jobs_are_found_by_id_prefix_and_filters(app: Any, services: Services) -> None:
    key = new_user(services, "ops", admin=True)
    client = login(app, key)
    first, second = submit(client, key), submit(client, key)
    page = client.get(f"{D}/jobs", params={"q": first[:6]}).text
    assert first in page
    assert second not in page
    assert first not in client.get(f"{D}/jobs", params={"status": "failed"}).text
    assert first in client.get(f"{D}/jobs", params={"user": "ops", "pipeline": "noop3"}).text


def test_retry_all_matching_shows_the_count_then_retries_them(app: Any, services: Services) -> None:
    key = new_user(services, "ops", admin=True)
    client = login(app, key)
    failed = [submit(client, key) for _ in range(3)]
    for job in failed:
        fail(services, job)
    submit(client, key)  # open: not retried
    confirm = client.get(f"{D}/failed/retry-all").text
    assert re.search(r'id="retry-count">3<', confirm)
    done = client.post(f"{D}/failed/retry-all", data={"csrf": csrf(client)})
    assert "Retried 3 job" in done.headers["location"].replace("+", " ")
    assert {services.store.jobs.get_job(uuid.UUID(j)).status.value for j in failed} == {"running"}


def test_a_paused_lane_admits_nothing_new_until_resumed(app: Any, services: Services) -> None:
    ops = new_user(services, "ops", admin=True)
    client = login(app, ops)
    token = csrf(client)
    started = submit(client, ops)  # admitted before the pause, and started
    claim = services.store.stages.claim_stage(uuid.UUID(started), "first", worker="w", lease_seconds=30)
    assert client.post(f"{D}/lanes/standard/pause", data={"csrf": token}).status_code == 303

    held = submit(client, new_user(services, "alice"))
    assert stage_status(services, held) == "ready"  # not admitted: waits in the database
    assert (
        client.get(f"/api/v1/jobs/{held}", headers={"Authorization": f"Bearer {ops}"}).json()["waiting"][
            "reason"
        ]
        == "lane_paused"
    )
    services.store.admission.admit_waiting()  # the maintenance tick admits nothing of it either
    assert stage_status(services, held) == "ready"
    express = submit(client, new_user(services, "pro", tier=Tier.PRO))  # another lane runs on
    assert stage_status(services, express) == "queued"
    services.store.stages.complete_stage(claim, {"ok": True})  # type: ignore[arg-type]
    assert stage_status(services, started, "second") == "queued"  # started work finishes

    assert client.post(f"{D}/lanes/standard/resume", data={"csrf": token}).status_code == 303
    assert stage_status(services, held) == "queued"  # admitted at once, not at the next tick


def test_cancel_and_retry_from_a_jobs_page(app: Any, services: Services) -> None:
    key = new_user(services, "ops", admin=True)
    client = login(app, key)
    job = submit(client, key)
    token = csrf(client, f"{D}/jobs/{job}")
    done = client.post(f"{D}/jobs/{job}/cancel", data={"csrf": token})
    assert done.headers["location"].startswith(f"{D}/jobs/{job}?")
    assert services.store.jobs.get_job(uuid.UUID(job)).status.value == "cancelled"
    again = client.post(f"{D}/jobs/{job}/cancel", data={"csrf": token})
    assert "Not cancelled" in again.headers["location"].replace("+", " ")
    retried = client.post(f"{D}/jobs/{job}/retry", data={"csrf": token, "next": "//evil.example/x"})
    assert retried.headers["location"].startswith(f"{D}/jobs/{job}?")  # back to the dashboard only
    assert services.store.jobs.get_job(uuid.UUID(job)).status.value == "queued"


def test_search_finds_a_source_name_whatever_its_case(app: Any, services: Services) -> None:
    key = new_user(services, "ops", admin=True)
    client = login(app, key)
    response = client.post(
        "/api/v1/jobs",
        files={"file": ("Interview-Final.wav", b"RIFF0000WAVE", "audio/wav")},
        data={"pipeline": "transcribe"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["id"] in client.get(f"{D}/jobs", params={"q": "interview"}).text
