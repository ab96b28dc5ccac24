"""Users, keys, lanes, quotas and rate limits through the HTTP API (TestClient, SQLite, in-memory broker)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from helpers.clock import FakeClock
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.api.keycache import KeyCache
from mediajobs.domain import Tier
from mediajobs.engines import Engines
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.store import Claim, WorkerBeat
from mediajobs.store.tables import ApiKeyRow
from mediajobs.store.users import charge
from mediajobs.wiring import Services, build_services

JOBS = "/api/v1/jobs"
LIMITS = {
    "free": {"concurrency": 1, "monthly_media_seconds": 60, "monthly_jobs": 50, "submits_per_minute": 5},
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 31, 23, 0, tzinfo=UTC))  # an hour before February starts


@pytest.fixture
def services(tmp_path: Path, sqlite_url: str, clock: FakeClock) -> Iterator[Services]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_TIER_LIMITS=LIMITS)
    built = build_services(settings, InMemoryPublisher(), engines=Engines(), clock=clock)
    yield built
    built.close()


@pytest.fixture
def api(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, services=services, maintenance=False)) as client:
        yield client


def user(services: Services, name: str, tier: Tier = Tier.FREE, *, admin: bool = False) -> dict[str, str]:
    """Headers of a new user's new key."""
    made = services.store.users.create_user(name, tier=tier, is_admin=admin)
    _, key = services.store.users.create_key(made.id)
    return {"Authorization": f"Bearer {key}"}


def beat(services: Services, *, queues: list[str], worker: str = "w1:1:abc", concurrency: int = 2) -> None:
    """A worker's heartbeat, as `mediajobs worker` sends it, naming the queues it consumes."""
    now = services.store.db.clock()
    services.store.leases.worker_heartbeat(
        WorkerBeat(
            worker_id=worker,
            hostname="host-1",
            pid=1,
            started_at=now,
            queues=tuple(queues),
            concurrency=concurrency,
        )
    )


def submit(api: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return api.post(
        JOBS, json={"pipeline": "transcribe", "source": "https://example.com/a.mp3", **body}, headers=headers
    )


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


# -- authentication ---------------------------------------------------------------------------------


def test_every_api_route_needs_a_key_and_the_probes_do_not(api: TestClient) -> None:
    job = str(uuid.uuid4())
    calls = [
        ("POST", JOBS), ("GET", JOBS), ("GET", f"{JOBS}/{job}"), ("POST", f"{JOBS}/{job}/cancel"),
        ("POST", f"{JOBS}/{job}/retry"), ("POST", f"{JOBS}/{job}/rerun"), ("GET", f"{JOBS}/{job}/result"),
        ("GET", f"{JOBS}/{job}/artifacts"),
        ("GET", f"{JOBS}/{job}/artifacts/transcript.srt"), ("GET", f"{JOBS}/{job}/events"),
        ("GET", "/api/v1/events"), ("POST", "/api/v1/uploads"), ("GET", f"/api/v1/uploads/{job}"),
        ("DELETE", f"{JOBS}/{job}"), ("DELETE", f"/api/v1/uploads/{job}"),
        ("GET", "/api/v1/me"), ("GET", "/api/v1/models"), ("GET", "/api/v1/languages"),
        ("GET", "/api/v1/queues"), ("GET", "/api/v1/pipelines"), ("GET", "/api/v1/workers"),
        ("POST", "/api/v1/batches"), ("GET", "/api/v1/batches"),
        ("GET", f"/api/v1/batches/{job}"), ("POST", f"/api/v1/batches/{job}/cancel"),
        ("POST", f"/api/v1/batches/{job}/retry"), ("GET", f"/api/v1/batches/{job}/artifacts"),
        ("GET", f"/api/v1/batches/{job}/events"),
        ("GET", f"{JOBS}/{job}/deliveries"), ("POST", f"{JOBS}/{job}/deliveries/1/redeliver"),
        ("GET", f"/api/v1/batches/{job}/deliveries"),
        ("POST", f"/api/v1/batches/{job}/deliveries/1/redeliver"),
        ("POST", "/api/v1/me/webhook-secret/rotate"), ("GET", "/api/v1/me/webhook-endpoints"),
        ("POST", "/api/v1/me/webhook-endpoints/ep_0123456789abcdef/enable"),
    ]  # fmt: skip
    documented = api.get("/openapi.json").json()["paths"]
    routes = {
        (method.upper(), path)
        for path, ops in documented.items()
        if path.startswith("/api/v1")
        for method in ops
    }
    assert len(routes) == len(calls)  # a new route must be added here, with its key check
    for method, path in calls:
        response = api.request(method, path)
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
    for probe in ("/healthz", "/readyz", "/docs", "/openapi.json"):
        assert api.get(probe).status_code == 200, probe


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Basic dXNlcjpwdw==",
        "Bearer mj_short",
        "Bearer mj_aaaaaaaaaaaa_" + "x" * 43,
        "Bearer " + "k" * 500,
    ],
    ids=["empty", "basic", "malformed", "unknown", "huge"],
)
def test_bad_keys_are_401(api: TestClient, authorization: str) -> None:
    assert_error(api.get(JOBS, headers={"Authorization": authorization}), 401, "unauthorized")


def test_a_revoked_key_or_a_disabled_user_stops_working_within_the_key_cache_time(
    api: TestClient, services: Services
) -> None:
    seconds = [0.0]
    cache = KeyCache(services.settings.key_cache_seconds, clock=lambda: seconds[0])
    api.app.state.key_cache = cache  # type: ignore[attr-defined]
    assert cache.ttl == 5.0  # the default
    alice = services.store.users.create_user("alice")
    key, text = services.store.users.create_key(alice.id)
    _, other = services.store.users.create_key(alice.id)
    assert api.get(JOBS, headers={"Authorization": f"Bearer {text}"}).status_code == 200
    services.store.users.revoke_key(key.id)
    seconds[0] = 4.9  # still remembered
    assert api.get(JOBS, headers={"Authorization": f"Bearer {text}"}).status_code == 200
    seconds[0] = 5.0
    assert_error(api.get(JOBS, headers={"Authorization": f"Bearer {text}"}), 401, "unauthorized")
    assert api.get(JOBS, headers={"Authorization": f"Bearer {other}"}).status_code == 200
    services.store.users.disable_user("alice")
    seconds[0] = 10.0
    assert_error(api.get(JOBS, headers={"Authorization": f"Bearer {other}"}), 401, "unauthorized")
    assert len(cache) == 0  # refused keys are not remembered


def test_with_the_key_cache_off_a_revoked_key_stops_working_at_once(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_KEY_CACHE_SECONDS=0)
    built = build_services(settings, InMemoryPublisher(), engines=Engines())
    try:
        with TestClient(create_app(settings, services=built, maintenance=False)) as api:
            key, text = built.store.users.create_key("local")
            assert api.get(JOBS, headers={"Authorization": f"Bearer {text}"}).status_code == 200
            built.store.users.revoke_key(key.id)
            assert_error(api.get(JOBS, headers={"Authorization": f"Bearer {text}"}), 401, "unauthorized")
    finally:
        built.close()


def test_the_job_quota_is_exact_even_when_the_key_check_is_remembered(
    api: TestClient, services: Services
) -> None:
    """The remembered caller's usage is stale; the submit's own usage charge refuses the job past the
    quota all the same, and writes nothing."""
    headers = user(services, "carol")  # free: 50 jobs a month in this test's limits
    assert submit(api, headers).status_code == 202  # the key check is remembered: 0 jobs used
    carol = services.store.users.get_user("carol")
    with services.store.db.tx() as tx:  # 49 more jobs counted elsewhere (another API process)
        charge(tx, carol.id, jobs=49)
    refused = submit(api, headers)
    assert_error(refused, 429, "quota_exceeded")
    assert "50 of 50 jobs" in refused.json()["error"]["message"]
    assert services.store.users.usage(carol.id).jobs == 50  # the refused submit charged nothing
    assert len(api.get(JOBS, headers=headers).json()["jobs"]) == 1


def test_keys_are_stored_as_hashes_only(services: Services) -> None:
    key, text = services.store.users.create_key("local", name="ci")
    secret = text.split("_", 2)[2]
    assert text.startswith(f"mj_{key.id}_")
    with services.store.engine.connect() as conn:
        row = conn.execute(select(ApiKeyRow.__table__).where(ApiKeyRow.id == key.id)).one()
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert all(secret not in str(value) for value in row)


# -- isolation between users --------------------------------------------------------------------------


def test_another_users_job_answers_404_like_an_unknown_one(api: TestClient, services: Services) -> None:
    alice, bob = user(services, "alice"), user(services, "bob")
    job = submit(api, alice).json()["id"]
    upload = api.post("/api/v1/uploads", files={"file": ("a.wav", b"RIFF data", "audio/wav")}, headers=alice)
    paths = [
        f"{JOBS}/{job}{tail}"
        for tail in ("", "/result", "/artifacts", "/artifacts/transcript.json", "/events")
    ]
    for path in [*paths, f"/api/v1/uploads/{upload.json()['id']}"]:
        assert_error(api.get(path, headers=bob), 404, "not_found")
        if not path.endswith((".json", "/events")):  # (no artifact yet; a live stream never ends)
            assert api.get(path, headers=alice).status_code != 404, path
    assert_error(api.post(f"{JOBS}/{job}/cancel", headers=bob), 404, "not_found")
    assert_error(api.post(f"{JOBS}/{job}/retry", headers=bob), 404, "not_found")
    assert api.get(JOBS, headers=bob).json()["jobs"] == []
    used = submit(api, bob, source=f"upload://{upload.json()['id']}")
    assert_error(used, 422, "upload_not_found")  # nobody can submit another user's upload
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        api.websocket_connect(f"{JOBS}/{job}/ws?access_token={bob['Authorization'].split()[1]}") as ws,
    ):
        ws.receive_text()
    assert closed.value.code == 4404


def test_an_admin_sees_and_manages_every_job(api: TestClient, services: Services) -> None:
    alice, root = user(services, "alice"), user(services, "root", Tier.ENTERPRISE, admin=True)
    job = submit(api, alice).json()["id"]
    listed = api.get(JOBS, headers=root).json()["jobs"]
    assert [(j["id"], j["owner"]) for j in listed] == [(job, services.store.users.get_user("alice").id)]
    assert api.post(f"{JOBS}/{job}/cancel", headers=root).json()["status"] == "cancelled"


def test_streams_take_the_key_as_a_query_parameter_or_a_cookie(api: TestClient, services: Services) -> None:
    headers = user(services, "alice")
    key = headers["Authorization"].split()[1]
    job = submit(api, headers).json()["id"]
    api.post(f"{JOBS}/{job}/cancel", headers=headers)  # a finished job: its stream replays and ends
    by_query = api.get(f"{JOBS}/{job}/events?access_token={key}")
    api.cookies.set("mediajobs_key", key)
    by_cookie = api.get(f"{JOBS}/{job}/events")
    api.cookies.clear()
    assert by_query.status_code == by_cookie.status_code == 200
    assert "cancelled by request" in by_query.text
    assert_error(api.get(f"{JOBS}?access_token={key}"), 401, "unauthorized")  # ordinary routes: header only


# -- lanes, quotas, rate limits --------------------------------------------------------------------------


def test_lanes_follow_the_tier_and_may_only_be_demoted(api: TestClient, services: Services) -> None:
    free, pro = user(services, "free-user"), user(services, "pro-user", Tier.PRO)
    assert api.get(f"{JOBS}/{submit(api, pro).json()['id']}", headers=pro).json()["lane"] == "express"
    assert api.get(f"{JOBS}/{submit(api, free).json()['id']}", headers=free).json()["lane"] == "standard"
    assert (
        api.get(f"{JOBS}/{submit(api, pro, lane='batch').json()['id']}", headers=pro).json()["lane"]
        == "batch"
    )
    assert_error(submit(api, free, lane="express"), 422, "lane_not_allowed")
    assert_error(submit(api, free, lane="fast"), 422, "invalid_lane")


def test_a_user_over_the_monthly_minutes_gets_429_until_the_next_period(
    api: TestClient, services: Services, clock: FakeClock
) -> None:
    headers = user(services, "alice")
    job = uuid.UUID(submit(api, headers).json()["id"])
    for stage, output in (("ingest", {}), ("normalize", {"duration": 60.0, "audio_key": "k"})):
        claim = services.store.stages.claim_stage(job, stage, worker="w", lease_seconds=30)
        assert isinstance(claim, Claim)
        services.store.stages.complete_stage(claim, output)  # normalize reserves the media's 60 s

    refused = submit(api, headers)

    assert_error(refused, 429, "quota_exceeded")
    assert int(refused.headers["retry-after"]) == 3600  # 23:00 on the 31st: an hour to February
    assert "1.0 of 1 minutes" in refused.json()["error"]["message"]
    assert "1.0 reserved by running jobs" in refused.json()["error"]["message"]
    me = api.get("/api/v1/me", headers=headers).json()
    assert me["usage"] == {
        "period": "2026-01",
        "jobs": 1,
        "media_minutes": 0.0,
        "reserved_media_minutes": 1.0,
        "characters": 0,
        "period_ends": "2026-02-01T00:00:00Z",
        "stored_bytes": 0,
    }
    clock.advance(3601)
    assert submit(api, headers).status_code == 202  # a new period, a new usage row
    assert api.get("/api/v1/me", headers=headers).json()["usage"]["period"] == "2026-02"


def test_the_submit_after_the_rate_limit_gets_429_with_ratelimit_headers(
    api: TestClient, services: Services
) -> None:
    headers = user(services, "alice")  # free: 5 submits a minute in this test's limits
    answers = [submit(api, headers) for _ in range(6)]
    assert [a.status_code for a in answers] == [202] * 5 + [429]
    assert [a.headers["ratelimit-remaining"] for a in answers[:5]] == ["4", "3", "2", "1", "0"]
    assert_error(answers[5], 429, "rate_limited")
    assert int(answers[5].headers["retry-after"]) >= 1
    assert answers[5].headers["ratelimit-limit"] == "5"
    assert answers[5].headers["ratelimit-policy"] == "5;w=60"
    assert submit(api, user(services, "bob")).status_code == 202  # per key: bob is not limited by alice


def test_me_tells_the_user_their_tier_lane_limits_and_usage(api: TestClient, services: Services) -> None:
    headers = user(services, "pro-user", Tier.PRO)
    submit(api, headers)
    me = api.get("/api/v1/me", headers=headers).json()
    assert (me["name"], me["tier"], me["lane"], me["admin"]) == ("pro-user", "pro", "express", False)
    assert me["limits"]["concurrency"] == 8
    assert me["usage"]["jobs"] == 1


def test_me_shows_a_signing_secret_made_on_first_need_and_kept(api: TestClient, services: Services) -> None:
    alice, bob = user(services, "alice"), user(services, "bob")
    first = api.get("/api/v1/me", headers=alice).json()["webhook_secret"]
    assert first.startswith("whsec_")
    assert api.get("/api/v1/me", headers=alice).json()["webhook_secret"] == first
    assert api.get("/api/v1/me", headers=bob).json()["webhook_secret"] != first
    alice_id = api.get("/api/v1/me", headers=alice).json()["id"]
    assert services.store.users.webhook_secret(alice_id) == first  # what a publish signs with


def test_a_job_held_by_the_users_concurrency_says_why_and_where_it_waits(
    api: TestClient, services: Services, clock: FakeClock
) -> None:
    headers = user(services, "alice")  # free: one stage in flight in this test's limits
    ids = []
    for _ in range(3):
        ids.append(submit(api, headers).json()["id"])
        clock.advance(1)
    first, second, third = ids
    download = f"{services.settings.queue_prefix}download"
    assert api.get(f"{JOBS}/{first}", headers=headers).json()["waiting"] == {
        "reason": "no_worker",  # admitted, but no worker consumes its queue
        "position": 1,
        "queue": download,
    }
    beat(services, queues=[download])
    assert api.get(f"{JOBS}/{first}", headers=headers).json()["waiting"] == {
        "reason": "lane",
        "position": 1,
        "queue": download,
    }
    assert api.get(f"{JOBS}/{second}", headers=headers).json()["waiting"] == {
        "reason": "user_concurrency",
        "position": 1,
        "queue": None,
    }
    assert api.get(f"{JOBS}/{third}", headers=headers).json()["waiting"]["position"] == 2
    api.post(f"{JOBS}/{first}/cancel", headers=headers)  # its slot goes to the next job at once
    assert api.get(f"{JOBS}/{second}", headers=headers).json()["waiting"]["reason"] == "lane"


def test_the_queues_show_their_consumers_backlog_and_oldest_age_to_an_admin_only(
    api: TestClient, services: Services, clock: FakeClock
) -> None:
    headers = user(services, "alice")
    admin = user(services, "root", admin=True)
    assert_error(api.get("/api/v1/queues", headers=headers), 403, "admin_only")
    assert_error(api.get("/api/v1/workers", headers=headers), 403, "admin_only")
    prefix = services.settings.queue_prefix
    submit(api, headers)
    clock.advance(7)
    beat(services, queues=[f"{prefix}download", f"{prefix}media", f"{prefix}maintenance"])

    queues = {q["name"]: q for q in api.get("/api/v1/queues", headers=admin).json()["queues"]}

    kinds = {"download", "media", "transcribe", "translate", "synthesize", "render", "maintenance", "hooks"}
    assert {q["kind"] for q in queues.values()} == kinds  # every kind of every shipped pipeline
    assert {q["lane"] for q in queues.values()} == {"express", "standard", "batch", None}
    download = queues[f"{prefix}download"]
    assert [c["worker"] for c in download["consumers"]] == ["w1:1:abc"]
    assert download["consumers"][0]["concurrency"] == 2
    assert download["waiting"] == 1  # the job's ingest, admitted and published
    assert download["oldest_waiting_seconds"] == pytest.approx(7.0)
    assert download["length"] == 1  # the in-memory broker holds its message
    assert queues[f"{prefix}translate"]["consumers"] == []  # nobody serves it
    assert queues[f"{prefix}translate"]["waiting"] == 0


def test_more_keys_do_not_give_a_user_more_submits_a_minute(api: TestClient, services: Services) -> None:
    """Issue 23, finding 13: the rate limit was per key, so k keys gave k times the tier's rate."""
    alice = services.store.users.create_user("alice")
    keys = [services.store.users.create_key(alice.id, name=f"k{i}")[1] for i in range(3)]
    answers = [submit(api, {"Authorization": f"Bearer {keys[i % 3]}"}) for i in range(6)]
    assert [a.status_code for a in answers] == [202] * 5 + [429]  # free: 5 a minute, all keys together
    assert_error(answers[5], 429, "rate_limited")
