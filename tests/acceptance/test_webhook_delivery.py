"""Webhooks with real workers (PostgreSQL, Redis, Celery, espeak-ng) and real receivers on 127.0.0.1
that verify every message with docs/webhooks.md's snippet (helpers/webhook_verify.py): the job's and
the batch's JSON arrive signed; a receiver that fails twice gets the third attempt with the same
webhook-id; a worker SIGKILLed while it sends a job's webhook, right after the job ended, loses
nothing; a private callback URL is refused at submit when private sources are off; `mediajobs up`
alone (SQLite, the filesystem broker) delivers one too.

Fast without bending a safety value: the failing receiver answers 503 and 429 with `Retry-After: 3`,
and the test's retry schedule is seven steps of 0.2 s instead of the spec's 5 s ... 10 h (the same
number of attempts, the same answers retried: a timing, as the tests' short leases are). The kill
test runs on the default schedule: its second attempt comes from a dead worker's release.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from helpers.processes import free_port, http_ready, wait_for, wait_serving
from helpers.settings import make_settings
from helpers.stack import Stack, open_stack
from helpers.up import mediajobs_up
from helpers.webhook_verify import verify
from mediajobs.client import Client

JOBS = "/api/v1/jobs"
HELLO = {"pipeline": "synthesize", "text": "Hello there.", "options": {"format": "wav"}}


@dataclass
class Seen:
    headers: dict[str, str]
    body: bytes
    valid: bool
    at: float
    status: int


@dataclass
class Receiver:
    """Answers each POST with the next scripted (status, Retry-After) (then 200), after verifying it;
    `hold`: the first POST waits (unanswered) until `release` is set."""

    secret: str
    script: list[tuple[int, str | None]] = field(default_factory=list)
    hold: bool = False
    seen: list[Seen] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def handle(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers["Content-Length"]))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        first = not self.seen
        status, retry_after = self.script.pop(0) if self.script else (200, None)
        self.seen.append(Seen(headers, body, verify(self.secret, handler.headers, body), time.time(), status))
        self.arrived.set()
        if self.hold and first:
            self.release.wait(60)  # the sender is killed meanwhile: nobody reads this answer
            return
        handler.send_response(status)
        if retry_after is not None:
            handler.send_header("Retry-After", retry_after)
        handler.send_header("Content-Length", "0")
        handler.end_headers()


@contextmanager
def receiver(secret: str, **kwargs: Any) -> Iterator[Receiver]:
    state = Receiver(secret=secret, **kwargs)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            with suppress(BrokenPipeError, ConnectionResetError):
                state.handle(self)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/mediajobs"
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


def _stack(tmp_path: Path, pg_url: str, redis_url: str, **settings: Any) -> Iterator[Stack]:
    config = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=redis_url, **settings)
    with open_stack(config, tmp_path) as stack:
        yield stack


@pytest.fixture
def stack(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[Stack]:
    yield from _stack(tmp_path, pg_url, redis_url)


@pytest.fixture
def quick_retries(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[Stack]:
    yield from _stack(tmp_path, pg_url, redis_url, MEDIAJOBS_WEBHOOK_RETRY_SCHEDULE=[0.2] * 7)


@pytest.fixture
def public_only(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[Stack]:
    yield from _stack(tmp_path, pg_url, redis_url, MEDIAJOBS_ALLOW_PRIVATE_SOURCES=False)


def _secret(stack: Stack) -> str:
    return str(stack.api.get("/api/v1/me").json()["webhook_secret"])


def _submit(stack: Stack, url: str) -> str:
    response = stack.api.post(JOBS, json={**HELLO, "callback_url": url})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _deliveries(stack: Stack, path: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = stack.api.get(f"{path}/deliveries").json()["deliveries"]
    return found


def _settled(stack: Stack, path: str, count: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
    """The subject's deliveries once `count` of them are no longer pending."""

    def done() -> list[dict[str, Any]] | None:
        found = _deliveries(stack, path)
        return found if sum(d["status"] != "pending" for d in found) >= count else None

    settled: list[dict[str, Any]] = wait_for(done, timeout=timeout, interval=0.1, message=f"{path}'s webhook")  # type: ignore[assignment]
    return settled


def test_a_receiver_verifies_the_job_and_batch_webhooks_with_the_documented_snippet(stack: Stack) -> None:
    stack.worker()
    with receiver(_secret(stack)) as hook:
        job_id = _submit(stack, hook.url)
        job = stack.wait_job(job_id)
        [delivery] = _settled(stack, f"{JOBS}/{job_id}")
        batch = stack.api.post(
            "/api/v1/batches",
            json={
                "pipeline": "synthesize",
                "items": [{"text": "One."}, {"text": "Two."}],
                "callback_url": hook.url,
            },
        ).json()
        [batch_delivery] = _settled(stack, f"/api/v1/batches/{batch['id']}")
    assert job["status"] == "succeeded"
    [for_job, for_batch] = hook.seen
    assert for_job.valid
    assert for_batch.valid
    message = json.loads(for_job.body)
    assert message["type"] == "job.finished"
    assert message["data"] == stack.api.get(f"{JOBS}/{job_id}").json()  # the job JSON, as GET answers it
    assert for_job.headers["webhook-id"] == delivery["webhook_id"]
    assert delivery["status"] == "delivered"
    [attempt] = delivery["attempts"]
    assert (attempt["outcome"], attempt["status_code"]) == ("delivered", 200)
    assert 0 < attempt["latency_seconds"] < 5

    batch_message = json.loads(for_batch.body)
    assert (batch_message["type"], batch_message["data"]["id"]) == ("batch.finished", batch["id"])
    assert batch_message["data"]["counts"] == {"succeeded": 2}
    assert batch_delivery["status"] == "delivered"


def test_a_receiver_that_fails_twice_gets_the_third_attempt_with_the_same_webhook_id(
    quick_retries: Stack,
) -> None:
    stack = quick_retries
    stack.worker()
    with receiver(_secret(stack), script=[(503, "3"), (429, "3")]) as hook:
        job_id = _submit(stack, hook.url)
        [delivery] = _settled(stack, f"{JOBS}/{job_id}")
    assert [(s.status, s.valid) for s in hook.seen] == [(503, True), (429, True), (200, True)]
    assert len({s.headers["webhook-id"] for s in hook.seen}) == 1
    assert len({s.body for s in hook.seen}) == 1
    gaps = [later.at - earlier.at for earlier, later in zip(hook.seen, hook.seen[1:], strict=False)]
    assert min(gaps) >= 3.0, gaps  # Retry-After honoured over the 0.2 s steps (+ the relay's 1 to 1.5 s)
    assert delivery["status"] == "delivered"
    assert delivery["webhook_id"] == hook.seen[0].headers["webhook-id"]
    assert [(a["number"], a["outcome"], a["status_code"]) for a in delivery["attempts"]] == [
        (1, "retry", 503),
        (2, "retry", 429),
        (3, "delivered", 200),
    ]


def test_a_worker_killed_while_it_sends_a_jobs_webhook_right_after_the_job_ended_loses_nothing(
    stack: Stack,
) -> None:
    first = stack.worker()
    with receiver(_secret(stack), hold=True) as hook:
        job_id = _submit(stack, hook.url)
        assert hook.arrived.wait(120), "the webhook never came"
        job = stack.api.get(f"{JOBS}/{job_id}").json()
        first.kill()  # SIGKILL, milliseconds after the job's end, while its webhook is in flight
        assert job["status"] == "succeeded"
        stack.worker()
        # within a lease period (5 s here) and a maintenance round of the kill: not after the sender's
        # 60 s hold, nor the broker's visibility timeout
        [delivery] = _settled(stack, f"{JOBS}/{job_id}", timeout=30)
    assert [s.valid for s in hook.seen] == [True, True]
    assert hook.seen[0].headers["webhook-id"] == hook.seen[1].headers["webhook-id"]
    assert hook.seen[0].body == hook.seen[1].body
    assert delivery["status"] == "delivered"
    assert [(a["outcome"], a["error"]) for a in delivery["attempts"]] == [
        ("lost", "the worker sending it died"),
        ("delivered", None),
    ]


def test_a_private_callback_url_is_refused_at_submit_when_private_sources_are_off(public_only: Stack) -> None:
    stack = public_only
    with receiver(_secret(stack)) as hook:
        for url in (hook.url, hook.url.replace("http://", "https://"), "https://[::1]/hooks"):
            response = stack.api.post(JOBS, json={**HELLO, "callback_url": url})
            assert response.status_code == 422, url
            assert response.json()["error"]["code"] == "forbidden_callback"
        batch = stack.api.post(
            "/api/v1/batches",
            json={"pipeline": "synthesize", "items": [{"text": "x"}], "callback_url": hook.url},
        )
        assert (batch.status_code, batch.json()["error"]["code"]) == (422, "forbidden_callback")
    assert hook.seen == []
    assert stack.api.get(JOBS).json()["jobs"] == []


def test_mediajobs_up_alone_delivers_a_signed_webhook(tmp_path: Path) -> None:
    """The embedded default: SQLite, the filesystem broker, one worker serving every queue (`hooks`
    too). Private sources are allowed only because the receiver listens on 127.0.0.1."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with mediajobs_up(tmp_path, port, MEDIAJOBS_ALLOW_PRIVATE_SOURCES="true") as proc:
        wait_serving(proc, lambda: http_ready(f"{url}/readyz"), timeout=90, log=tmp_path / "up.log")
        key = (tmp_path / "data" / "api-key").read_text().strip()
        with Client(url, api_key=key) as client, receiver(client.me()["webhook_secret"]) as hook:
            job = client.submit_text("Hello there.", pipeline="synthesize", callback_url=hook.url)
            assert client.wait(job["id"], timeout=120)["status"] == "succeeded"
            wait_for(lambda: hook.seen, timeout=60, message="the webhook")
            [delivery] = client.deliveries(job["id"])["deliveries"]
    [seen] = hook.seen
    assert seen.valid
    assert json.loads(seen.body)["data"]["id"] == job["id"]
    assert delivery["webhook_id"] == seen.headers["webhook-id"]
