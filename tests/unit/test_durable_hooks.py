"""Durable hooks (hooks/durable.py): a job's end writes their deliveries in its own transaction; each
is published to the hooks queue after the commit (or by the relay), sent once by a sender holding
its lease, retried with backoff, given up on a permanent error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from helpers.auth import authorize
from helpers.clock import FakeClock
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.engines import Engines
from mediajobs.engines.http import OutboundHttp
from mediajobs.errors import PermanentError, RetryableError
from mediajobs.hooks import HookChain, JobFinished
from mediajobs.hooks.durable import DurableHook, Outgoing, Owed
from mediajobs.queue.delivery import DeliverySender
from mediajobs.queue.maintenance import RELAY_AFTER, Maintenance
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.testing import MockHttp
from mediajobs.wiring import Services, build_services

NO_NETWORK = MockHttp(lambda request: httpx.Response(599))


@dataclass
class Collect(DurableHook):
    """Delivers each ended job's id; fails as scripted first."""

    name: str = "collect"
    failures: list[Exception] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)

    def deliveries(self, job: JobFinished) -> list[Owed]:
        return [
            Owed(destination="collect://", payload={"job_id": str(job.job_id), "status": str(job.status)})
        ]

    def deliver(self, message: Outgoing, http: OutboundHttp) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append({**message.payload, "attempt": message.attempt, "delivery": message.delivery_id})


@dataclass
class World:
    services: Services
    publisher: InMemoryPublisher
    hook: Collect
    clock: FakeClock
    api: TestClient

    def finished_job(self) -> str:
        job_id: str = self.api.post("/api/v1/jobs", json={"pipeline": "noop", "source": "noop://x"}).json()[
            "id"
        ]
        self.publisher.drain(self.services.runner.run)
        return job_id

    def send(self) -> list[str]:
        """What a worker of the hooks queue does with each message there."""
        sender = DeliverySender(self.services.store, [self.hook], NO_NETWORK)
        outcomes = []
        while self.publisher.deliveries:
            outcomes.append(sender.send(self.publisher.deliveries.popleft()))
        return outcomes

    def relay(self) -> dict[str, int]:
        return Maintenance(self.services.store, self.services.dispatcher, self.services.settings).run_once()


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str, clock: FakeClock) -> Iterator[World]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_NOOP_PIPELINES=True)
    hook = Collect()
    publisher = InMemoryPublisher()
    services = build_services(settings, publisher, engines=Engines(), hooks=HookChain([hook]), clock=clock)
    with TestClient(create_app(settings, services=services, maintenance=False)) as api:
        authorize(api, services.store)
        yield World(services=services, publisher=publisher, hook=hook, clock=clock, api=api)
    services.close()


def test_a_jobs_end_writes_its_delivery_which_is_published_after_the_commit_and_sent_once(
    world: World,
) -> None:
    job_id = world.finished_job()

    [delivery] = world.services.store.deliveries.of_job(uuid.UUID(job_id))
    assert (delivery.hook, delivery.event, delivery.status) == ("collect", "job.finished", "pending")
    assert list(world.publisher.deliveries) == [delivery.id]  # published right after the commit
    assert world.send() == ["delivered"]
    assert world.hook.sent == [
        {"job_id": job_id, "status": "succeeded", "attempt": 1, "delivery": delivery.id}
    ]
    [done] = world.services.store.deliveries.of_job(uuid.UUID(job_id))
    assert done.status == "delivered"
    assert done.delivered_at is not None
    # a second copy of its message (a relay that raced, a redelivery) sends nothing
    sender = DeliverySender(world.services.store, [world.hook], NO_NETWORK)
    assert sender.send(delivery.id) == "skipped"
    assert len(world.hook.sent) == 1


def test_a_failing_receiver_is_retried_after_a_backoff_then_delivered(world: World) -> None:
    world.hook.failures = [RetryableError("503", code="http_503"), RetryableError("timeout", code="timeout")]
    job_id = world.finished_job()

    assert world.send() == ["retry"]
    [waiting] = world.services.store.deliveries.of_job(uuid.UUID(job_id))
    assert waiting.status == "pending"
    assert waiting.last_error is not None
    assert "503" in waiting.last_error
    assert world.relay()["deliveries"] == 0  # not due yet
    world.clock.advance(world.hook.retry.cap + RELAY_AFTER.total_seconds() + 1)
    assert world.relay()["deliveries"] == 1
    assert world.send() == ["retry"]
    world.clock.advance(world.hook.retry.cap + RELAY_AFTER.total_seconds() + 1)
    world.relay()
    assert world.send() == ["delivered"]
    assert [s["attempt"] for s in world.hook.sent] == [3]
    [done] = world.services.store.deliveries.of_job(uuid.UUID(job_id))
    assert (done.status, done.attempts) == ("delivered", 3)


def test_a_permanent_error_gives_up_and_says_why(world: World) -> None:
    world.hook.failures = [PermanentError("the receiver answered 400", code="http_400")]
    job_id = world.finished_job()

    assert world.send() == ["failed"]
    [failed] = world.services.store.deliveries.of_job(uuid.UUID(job_id))
    assert failed.status == "failed"
    assert failed.last_error == "http_400: the receiver answered 400"
    world.clock.advance(3600)
    assert world.relay()["deliveries"] == 0


def test_a_delivery_the_broker_refused_after_the_commit_goes_out_with_the_relay(world: World) -> None:
    job_id = world.api.post("/api/v1/jobs", json={"pipeline": "noop", "source": "noop://x"}).json()["id"]
    message = world.publisher.messages.popleft()
    world.publisher.down = True
    world.services.runner.run(message.job_id, message.stage)  # the job's end commits, its delivery is refused
    world.publisher.down = False
    assert list(world.publisher.deliveries) == []
    [delivery] = world.services.store.deliveries.of_job(uuid.UUID(job_id))
    assert delivery.status == "pending"

    assert world.relay()["deliveries"] == 0  # the relay leaves a fresh one to the process that wrote it
    world.clock.advance(RELAY_AFTER.total_seconds() + 1)
    assert world.relay()["deliveries"] == 1

    assert list(world.publisher.deliveries) == [delivery.id]
    assert world.send() == ["delivered"]


def test_a_sender_that_died_holding_a_delivery_leaves_it_to_another_once_its_lease_runs_out(
    world: World,
) -> None:
    job_id = world.finished_job()
    [delivery] = world.services.store.deliveries.of_job(uuid.UUID(job_id))
    held = world.services.store.deliveries.take(
        delivery.id, hold=DeliverySender(world.services.store, [world.hook], NO_NETWORK).hold
    )
    assert held is not None  # ... and its sender was killed before it recorded anything
    world.publisher.deliveries.clear()

    assert world.relay()["deliveries"] == 0  # its lease still runs
    world.clock.advance(120)
    assert world.relay()["deliveries"] == 1
    assert world.send() == ["delivered"]
    assert world.hook.sent[0]["attempt"] == 2
