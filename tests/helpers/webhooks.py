"""Webhooks in-process for unit tests: the API on SQLite with the in-memory broker and the real runner,
the hooks queue's sender, receivers played by httpx.MockTransport, the time by a hand-moved clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from helpers.auth import authorize
from helpers.clock import FakeClock
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.engines import Engines
from mediajobs.engines.http import OutboundHttp
from mediajobs.queue.delivery import DeliverySender
from mediajobs.queue.maintenance import Maintenance
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.store.tx import durable_hooks
from mediajobs.testing import MockHttp
from mediajobs.wiring import Services, build_services

JOBS = "/api/v1/jobs"
URL = "https://hooks.example.com/mediajobs"

Answer = httpx.Response | Exception


@dataclass
class Receiver:
    """Answers each POST with the next scripted answer (then 200) and keeps what it got."""

    script: list[Answer] = field(default_factory=list)
    got: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.got.append(request)
        answer = self.script.pop(0) if self.script else httpx.Response(200)
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass
class World:
    services: Services
    publisher: InMemoryPublisher
    clock: FakeClock
    api: TestClient
    receiver: Receiver

    @property
    def secret(self) -> str:
        return str(self.api.get("/api/v1/me").json()["webhook_secret"])

    def submit(self, url: str | None = URL, **body: Any) -> str:
        response = self.api.post(
            JOBS, json={"pipeline": "noop", "source": "noop://x", "callback_url": url, **body}
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def finished_job(self, url: str = URL) -> str:
        job_id = self.submit(url)
        self.publisher.drain(self.services.runner.run)
        return job_id

    def send(self, http: OutboundHttp | None = None) -> list[str]:
        """What a worker of the hooks queue does with each message there."""
        sender = DeliverySender(
            self.services.store, durable_hooks(self.services.hooks), http or MockHttp(self.receiver)
        )
        outcomes = []
        while self.publisher.deliveries:
            outcomes.append(sender.send(self.publisher.deliveries.popleft()))
        return outcomes

    def relay(self) -> int:
        return Maintenance(self.services.store, self.services.dispatcher, self.services.settings).run_once()[
            "deliveries"
        ]

    def deliveries(self, job_id: str) -> list[dict[str, Any]]:
        response = self.api.get(f"{JOBS}/{job_id}/deliveries")
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["deliveries"]
        return found

    def due_in(self, job_id: str) -> float:
        [delivery] = self.services.store.deliveries.of_job(uuid.UUID(job_id))
        return (delivery.next_attempt_at - self.clock.now).total_seconds()


@contextmanager
def open_world(tmp_path: Path, sqlite_url: str, clock: FakeClock, **settings: Any) -> Iterator[World]:
    config = make_settings(
        tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_NOOP_PIPELINES=True, **settings
    )
    publisher = InMemoryPublisher()
    services = build_services(config, publisher, engines=Engines(), clock=clock)
    with TestClient(create_app(config, services=services, maintenance=False)) as api:
        authorize(api, services.store)
        yield World(services=services, publisher=publisher, clock=clock, api=api, receiver=Receiver())
    services.close()
