"""Deliveries of webhooks (store/deliveries.py, queue/delivery.py, service/deliveries.py) in-process: what a
job's end owes, redelivery, the owner's scope, a job that runs again before its webhook went out, a
worker that died holding one, a sender that outlived its hold."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from helpers.clock import FakeClock
from helpers.webhooks import JOBS, World, open_world
from mediajobs.domain.deliveries import DeliveryOutcome, DeliveryStatus
from mediajobs.domain.retry import STANDARD_WEBHOOK_DELAYS
from mediajobs.queue.delivery import DeliverySender
from mediajobs.queue.maintenance import RELAY_AFTER
from mediajobs.store import Settlement
from mediajobs.testing import MockHttp


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str, clock: FakeClock) -> Iterator[World]:
    with open_world(tmp_path, sqlite_url, clock) as opened:
        yield opened


def test_a_job_without_a_callback_url_owes_nothing(world: World) -> None:
    job_id = world.submit(None)
    world.publisher.drain(world.services.runner.run)
    assert world.deliveries(job_id) == []
    assert list(world.publisher.deliveries) == []


def test_redelivery_sends_the_same_message_again_now(world: World) -> None:
    job_id = world.finished_job()
    world.send()
    [first] = world.deliveries(job_id)
    response = world.api.post(first["links"]["redeliver"])
    assert response.status_code == 202, response.text
    copy = response.json()
    assert (copy["redelivery_of"], copy["status"], copy["webhook_id"]) == (
        first["id"],
        "pending",
        first["webhook_id"],
    )
    assert world.send() == ["delivered"]
    assert world.receiver.got[0].content == world.receiver.got[1].content
    assert [d["status"] for d in world.deliveries(job_id)] == ["delivered", "delivered"]

    world.receiver.script = [httpx.Response(503)]  # a pending one, waiting for its next attempt...
    later = world.finished_job()
    world.send()
    [pending] = world.deliveries(later)
    assert pending["next_attempt_at"] is not None
    redone = world.api.post(pending["links"]["redeliver"]).json()
    assert redone["id"] == pending["id"]  # ... is tried now, not copied
    assert world.send() == ["delivered"]

    assert world.api.post(f"{JOBS}/{later}/deliveries/{first['id']}/redeliver").status_code == 404
    assert world.api.post(f"{JOBS}/{uuid.uuid4()}/deliveries/{first['id']}/redeliver").status_code == 404


def test_another_users_deliveries_are_not_found(world: World) -> None:
    job_id = world.finished_job()
    user = world.services.store.users.create_user("someone")
    _, key = world.services.store.users.create_key(user.id)
    headers = {"Authorization": f"Bearer {key}"}
    assert world.api.get(f"{JOBS}/{job_id}/deliveries", headers=headers).status_code == 404
    [delivery] = world.deliveries(job_id)
    assert world.api.post(delivery["links"]["redeliver"], headers=headers).status_code == 404


def test_a_job_that_runs_again_before_its_webhook_went_out_sends_only_its_next_end(world: World) -> None:
    job_id = world.submit()
    assert world.api.post(f"{JOBS}/{job_id}/cancel").json()["status"] == "cancelled"
    assert world.api.post(f"{JOBS}/{job_id}/retry").status_code == 202
    assert world.send() == ["failed"]  # superseded: the job is open again
    world.publisher.drain(world.services.runner.run)
    assert world.send() == ["delivered"]
    first, second = world.deliveries(job_id)
    assert first["last_error"].startswith("superseded")
    assert json.loads(world.receiver.got[0].content)["data"]["status"] == "succeeded"
    assert second["webhook_id"] != first["webhook_id"]


def test_a_delivery_taken_by_a_worker_that_died_goes_out_again_once_it_is_silent(world: World) -> None:
    job_id = world.finished_job()
    [delivery_id] = world.publisher.deliveries
    deliveries = world.services.store.deliveries
    deliveries.mark_reserved("ghost:1:abc", delivery_id)  # its main process took the message...
    assert deliveries.take(delivery_id, hold=timedelta(hours=1), worker="ghost:1") is not None  # ...and died
    world.publisher.deliveries.clear()

    assert world.relay() == 0  # a worker is not dead until it has been silent for a lease period
    world.clock.advance(world.services.settings.lease_seconds + RELAY_AFTER.total_seconds() + 1)
    assert world.relay() == 1  # not an hour later, when its hold would have run out
    assert world.send() == ["delivered"]
    [delivery] = world.deliveries(job_id)
    assert [(a["number"], a["outcome"]) for a in delivery["attempts"]] == [(1, "lost"), (2, "delivered")]
    assert delivery["attempts"][0]["error"] == "the worker sending it died"


def test_a_sender_that_outlived_its_hold_records_nothing_over_its_successor(world: World) -> None:
    world.finished_job()
    [delivery_id] = world.publisher.deliveries
    deliveries = world.services.store.deliveries
    stale = deliveries.take(delivery_id, hold=timedelta(seconds=1), worker="slow")
    assert stale is not None
    world.clock.advance(2)
    assert world.send() == ["delivered"]  # another sender took it over
    late = Settlement(outcome=DeliveryOutcome.FAILED, status=DeliveryStatus.FAILED, error="too late")
    assert deliveries.settle(stale, late) is False
    assert deliveries.get(delivery_id).status is DeliveryStatus.DELIVERED


def test_a_delivery_of_a_hook_this_worker_lacks_is_tried_on_the_schedule_then_given_up(world: World) -> None:
    job_id = world.finished_job()
    without = DeliverySender(world.services.store, [], MockHttp(world.receiver))
    for _ in range(len(STANDARD_WEBHOOK_DELAYS)):
        [delivery_id] = world.publisher.deliveries
        world.publisher.deliveries.clear()
        assert without.send(delivery_id) == "retry"
        world.clock.advance(world.due_in(job_id) + RELAY_AFTER.total_seconds() + 0.1)
        assert world.relay() == 1
    assert without.send(world.publisher.deliveries.popleft()) == "failed"
    [delivery] = world.deliveries(job_id)
    assert delivery["last_error"] == "no hook named 'webhook' in this worker"
    assert world.receiver.got == []
