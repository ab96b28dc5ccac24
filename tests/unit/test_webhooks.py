"""Webhooks (hooks/webhooks.py) through the API in-process: SQLite, the in-memory broker, the real runner
and sender, receivers played by httpx.MockTransport and the time by a hand-moved clock. The message is
the job's JSON, signed the Standard Webhooks way (checked with docs/webhooks.md's receiver snippet);
retried on the spec's schedule with jitter and Retry-After; 410 disables the endpoint; every attempt
is recorded and visible; the signing secret's rotation; the address rules at submit and at every
delivery. (Deliveries themselves, redelivery and recovery: test_deliveries.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers.clock import FakeClock
from helpers.webhook_verify import verify
from helpers.webhooks import JOBS, URL, World, open_world
from mediajobs import netguard
from mediajobs.domain.retry import STANDARD_WEBHOOK_DELAYS
from mediajobs.engines.http import GuardedHttp
from mediajobs.hooks.webhooks import answer_for
from mediajobs.public import BatchFinishedMessage, JobFinishedMessage
from mediajobs.queue.maintenance import RELAY_AFTER
from mediajobs.signing import ROTATION_WINDOW
from mediajobs.store.tables import UploadRow


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str, clock: FakeClock) -> Iterator[World]:
    with open_world(tmp_path, sqlite_url, clock) as opened:
        yield opened


@pytest.fixture
def public_only(tmp_path: Path, sqlite_url: str, clock: FakeClock) -> Iterator[World]:
    with open_world(tmp_path, sqlite_url, clock, MEDIAJOBS_ALLOW_PRIVATE_SOURCES=False) as opened:
        yield opened


def test_a_jobs_end_posts_its_json_signed_the_standard_webhooks_way(world: World) -> None:
    job_id = world.finished_job()
    assert world.send() == ["delivered"]

    [request] = world.receiver.got
    assert (request.method, str(request.url)) == ("POST", URL)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"].startswith("msg_")
    assert verify(world.secret, request.headers, request.content)  # docs/webhooks.md's receiver
    assert not verify(world.secret, request.headers, request.content + b" ")
    message = json.loads(request.content)
    job = world.api.get(f"{JOBS}/{job_id}").json()
    assert message == {"type": "job.finished", "timestamp": message["timestamp"], "data": job}
    assert job["callback_url"] == URL
    assert message["timestamp"] == job["finished_at"]
    JobFinishedMessage.model_validate_json(request.content)  # what the OpenAPI document's webhooks say
    documented = world.api.get("/openapi.json").json()["webhooks"]["job.finished"]["post"]
    assert documented["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/JobFinishedMessage"
    }
    assert {p["name"] for p in documented["parameters"]} == {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }

    [delivery] = world.deliveries(job_id)
    assert delivery["status"] == "delivered"
    assert delivery["webhook_id"] == request.headers["webhook-id"]
    assert (delivery["url"], delivery["event"], delivery["next_attempt_at"]) == (URL, "job.finished", None)
    [attempt] = delivery["attempts"]
    assert (attempt["number"], attempt["outcome"], attempt["status_code"], attempt["error"]) == (
        1,
        "delivered",
        200,
        None,
    )
    assert attempt["latency_seconds"] is not None


def test_failures_retry_on_the_spec_schedule_with_jitter_and_the_same_message_until_it_gives_up(
    world: World,
) -> None:
    world.receiver.script = [httpx.Response(503)] * 8
    job_id = world.finished_job()
    for attempt, planned in enumerate(STANDARD_WEBHOOK_DELAYS, start=1):
        assert world.send() == ["retry"], attempt
        waits = world.due_in(job_id)
        assert planned <= waits <= planned * 1.2, (attempt, planned, waits)  # jitter: up to 20% later
        world.clock.advance(waits / 2)
        assert world.relay() == 0  # not due yet
        world.clock.advance(waits / 2 + RELAY_AFTER.total_seconds() + 0.1)
        assert world.relay() == 1
    assert world.send() == ["failed"]  # the 8th attempt: no retry left

    assert len(world.receiver.got) == 8
    assert len({r.headers["webhook-id"] for r in world.receiver.got}) == 1
    assert len({r.content for r in world.receiver.got}) == 1  # the very same bytes each time
    [delivery] = world.deliveries(job_id)
    assert delivery["status"] == "failed"
    assert [a["outcome"] for a in delivery["attempts"]] == ["retry"] * 7 + ["failed"]
    assert {a["status_code"] for a in delivery["attempts"]} == {503}
    assert delivery["last_error"].endswith("(gave up after 8 attempts)")
    world.clock.advance(100_000)
    assert world.relay() == 0


def test_retry_after_is_honoured_and_429_and_timeouts_are_retried(world: World) -> None:
    world.receiver.script = [
        httpx.Response(429, headers={"Retry-After": "3600"}),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.Response(502),
    ]
    job_id = world.finished_job()
    assert world.send() == ["retry"]
    assert world.due_in(job_id) == pytest.approx(3600, abs=1)  # not the schedule's 5 s
    for _ in range(3):
        world.clock.advance(world.due_in(job_id) + 2)
        world.relay()
        assert world.send() == ["retry"]
    world.clock.advance(world.due_in(job_id) + 2)
    world.relay()
    assert world.send() == ["delivered"]
    [delivery] = world.deliveries(job_id)
    assert [(a["outcome"], a["status_code"]) for a in delivery["attempts"]] == [
        ("retry", 429),
        ("retry", None),
        ("retry", None),
        ("retry", 502),
        ("delivered", 200),
    ]
    assert "timeout" in delivery["attempts"][1]["error"]
    assert "ConnectError" in delivery["attempts"][2]["error"]


@pytest.mark.parametrize(
    ("status", "outcome", "code"),
    [(200, "delivered", None), (204, "delivered", None), (301, "failed", None), (400, "failed", None),
     (401, "failed", None), (404, "failed", None), (408, "failed", None), (410, "gone", "endpoint_disabled"),
     (429, "retry", None), (500, "retry", None), (503, "retry", None), (504, "retry", None)],
)  # fmt: skip
def test_what_each_answer_means(status: int, outcome: str, code: str | None) -> None:
    answer = answer_for(status, reason="x", retry_after="7", location="https://elsewhere.example.com/")
    assert answer.outcome.value == outcome
    assert answer.status == status
    assert answer.retry_after == (7.0 if outcome == "retry" else None)
    if code is not None:
        assert answer.error is not None
        assert answer.error.startswith(code)
    if 300 <= status < 400:
        assert answer.error is not None
        assert "redirects are not followed" in answer.error


def test_another_4xx_stops_at_once(world: World) -> None:
    world.receiver.script = [httpx.Response(400, text="no such hook here")]
    job_id = world.finished_job()
    assert world.send() == ["failed"]
    [delivery] = world.deliveries(job_id)
    assert delivery["status"] == "failed"
    assert "HTTP 400" in delivery["last_error"]
    assert "no such hook here" in delivery["last_error"]  # the start of the receiver's answer
    world.clock.advance(100_000)
    assert world.relay() == 0


def test_410_disables_the_endpoint_for_its_owner_until_they_enable_it(world: World) -> None:
    world.receiver.script = [httpx.Response(410)]
    first = world.finished_job()
    waiting = world.submit()  # written before the 410, ended after it
    assert world.send() == ["gone"]
    world.publisher.drain(world.services.runner.run)
    assert world.send() == ["failed"]  # nothing sent to a disabled endpoint
    assert len(world.receiver.got) == 1

    [gone] = world.deliveries(first)
    assert (gone["status"], gone["attempts"][0]["outcome"]) == ("failed", "gone")
    [unsent] = world.deliveries(waiting)
    assert unsent["last_error"].startswith("endpoint_disabled")
    [endpoint] = world.api.get("/api/v1/me/webhook-endpoints").json()["endpoints"]
    assert (endpoint["url"], endpoint["delivery_id"]) == (URL, gone["id"])

    refused = world.api.post(JOBS, json={"pipeline": "noop", "source": "noop://x", "callback_url": URL})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "callback_disabled"
    again = world.api.post(f"{JOBS}/{waiting}/deliveries/{unsent['id']}/redeliver")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "endpoint_disabled")
    assert world.submit("https://other.example.com/hook")  # only that URL is off

    enabled = world.api.post(endpoint["links"]["enable"])
    assert enabled.status_code == 200, enabled.text
    assert world.api.get("/api/v1/me/webhook-endpoints").json()["endpoints"] == []
    assert world.api.post(endpoint["links"]["enable"]).status_code == 404
    assert world.api.post(f"{JOBS}/{waiting}/deliveries/{unsent['id']}/redeliver").status_code == 202
    assert world.send() == ["delivered"]
    assert world.submit()


def test_a_rotated_secret_signs_beside_the_new_one_for_its_window(world: World) -> None:
    old = world.secret
    rotated = world.api.post("/api/v1/me/webhook-secret/rotate").json()
    new = rotated["webhook_secret"]
    assert new != old
    assert world.api.get("/api/v1/me").json()["webhook_secret_previous_until"] is not None

    world.finished_job()
    world.send()
    request = world.receiver.got[-1]
    assert len(request.headers["webhook-signature"].split()) == 2
    assert verify(new, request.headers, request.content)
    assert verify(old, request.headers, request.content)  # a receiver not yet told keeps working

    world.clock.advance(ROTATION_WINDOW.total_seconds() + 1)
    world.finished_job()
    world.send()
    request = world.receiver.got[-1]
    assert len(request.headers["webhook-signature"].split()) == 1
    assert verify(new, request.headers, request.content)
    assert not verify(old, request.headers, request.content)
    assert world.api.get("/api/v1/me").json()["webhook_secret_previous_until"] is None


def test_a_batch_posts_its_own_json_when_its_last_item_ends(world: World) -> None:
    response = world.api.post(
        "/api/v1/batches",
        json={
            "pipeline": "noop",
            "items": [{"source": "noop://a"}, {"source": "noop://b"}],
            "callback_url": URL,
        },
    )
    assert response.status_code == 202, response.text
    batch_id = response.json()["id"]
    world.publisher.drain(world.services.runner.run)
    assert world.send() == ["delivered"]  # one for the batch, none for its items

    [request] = world.receiver.got
    assert verify(world.secret, request.headers, request.content)
    message = json.loads(request.content)
    assert (message["type"], message["data"]["id"], message["data"]["status"]) == (
        "batch.finished",
        batch_id,
        "succeeded",
    )
    assert message["data"]["callback_url"] == URL
    BatchFinishedMessage.model_validate_json(request.content)
    [delivery] = world.api.get(f"/api/v1/batches/{batch_id}/deliveries").json()["deliveries"]
    assert (delivery["status"], delivery["batch_id"], delivery["job_id"]) == ("delivered", batch_id, None)
    again = world.api.post(delivery["links"]["redeliver"])
    assert again.status_code == 202, again.text


def test_a_private_callback_is_refused_at_submit_when_private_sources_are_off(public_only: World) -> None:
    api = public_only.api
    for url, code in [
        ("https://127.0.0.1:8443/hook", "forbidden_callback"),
        ("https://10.0.0.5/hook", "forbidden_callback"),
        ("https://localhost/hook", "forbidden_callback"),
        ("https://[::ffff:169.254.169.254]/latest", "forbidden_callback"),
        ("http://hooks.example.com/plain", "invalid_callback_url"),
        ("https://user:pw@hooks.example.com/", "invalid_callback_url"),
        ("ftp://hooks.example.com/", "invalid_callback_url"),
        ("https:///no-host", "invalid_callback_url"),
    ]:
        response = api.post(JOBS, json={"pipeline": "noop", "source": "noop://x", "callback_url": url})
        assert (response.status_code, response.json()["error"]["code"]) == (422, code), url
    batch = api.post(
        "/api/v1/batches",
        json={"pipeline": "noop", "items": [{"source": "noop://a"}], "callback_url": "https://127.0.0.1/"},
    )
    assert (batch.status_code, batch.json()["error"]["code"]) == (422, "forbidden_callback")
    form = api.post(
        JOBS,
        files={"file": ("a.wav", b"RIFF....", "audio/wav")},
        data={"pipeline": "transcribe", "callback_url": "https://192.168.1.2/hook"},
    )
    assert (form.status_code, form.json()["error"]["code"]) == (422, "forbidden_callback")
    with public_only.services.store.engine.connect() as conn:
        assert conn.execute(UploadRow.__table__.select()).first() is None  # refused before storing
    assert public_only.submit("https://hooks.example.com/in")


def test_the_address_rules_hold_at_every_delivery(
    public_only: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = public_only.finished_job("https://hooks.example.com/in")  # a public name at submit...
    monkeypatch.setattr(netguard, "resolve_host", lambda host, port: ["10.1.2.3"])  # ...private now
    assert public_only.send(GuardedHttp(allow_private=False)) == ["failed"]
    [delivery] = public_only.deliveries(job_id)
    assert delivery["last_error"].startswith("forbidden_callback")
    assert "10.1.2.3" in delivery["last_error"]


def test_a_multipart_submit_takes_callback_url_as_a_form_field(world: World) -> None:
    response = world.api.post(
        JOBS,
        files={"file": ("a.wav", b"RIFF....", "audio/wav")},
        data={"pipeline": "transcribe", "callback_url": URL},
    )
    assert response.status_code == 202, response.text
    assert world.api.get(f"{JOBS}/{response.json()['id']}").json()["callback_url"] == URL


def test_a_rerun_announces_its_end_where_the_old_job_did(world: World) -> None:
    job_id = world.finished_job()
    rerun = world.api.post(f"{JOBS}/{job_id}/rerun", json={"from_stage": "noop"})
    assert rerun.status_code == 202, rerun.text
    assert rerun.json()["callback_url"] == URL


def test_an_idempotent_replay_with_another_callback_url_is_a_conflict(world: World) -> None:
    headers = {"Idempotency-Key": "k1"}
    body = {"pipeline": "noop", "source": "noop://x", "callback_url": URL}
    assert world.api.post(JOBS, json=body, headers=headers).status_code == 202
    assert world.api.post(JOBS, json=body, headers=headers).status_code == 202
    other = world.api.post(JOBS, json={**body, "callback_url": URL + "/2"}, headers=headers)
    assert other.status_code == 409
