"""The event endpoints through TestClient on SQLite (no live feed: the embedded follow), for what ends:
replays of finished jobs, resuming, 204 / 404 / 422, the WebSocket's messages and close codes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from helpers.auth import authorize
from helpers.progress import run_job, submit
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.client import SseParser
from mediajobs.domain.events import ProgressEvent
from mediajobs.engines import Engines
from mediajobs.progress import FollowTimings
from mediajobs.progress.cursor import EventIds
from mediajobs.public import job_public
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.wiring import Services, build_services


@pytest.fixture
def services(tmp_path: Path, sqlite_url: str) -> Iterator[Services]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url)
    built = build_services(settings, InMemoryPublisher(), engines=Engines())
    built.progress.timings = FollowTimings(poll=0.02)
    yield built
    built.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, services=services, maintenance=False)) as test_client:
        yield authorize(test_client, services.store)


def parse(body: str) -> list[tuple[int, ProgressEvent]]:
    parser = SseParser()
    out = []
    for line in body.split("\n"):
        message = parser.feed(line)
        if message is not None and message.data:
            assert message.id is not None
            out.append((int(message.id), ProgressEvent.from_json(json.loads(message.data))))
    return out


def finished_job(services: Services) -> uuid.UUID:
    job = submit(services.store)
    run_job(services.store, job.id)
    return job.id


def test_embedded_without_redis_has_no_live_feed(services: Services) -> None:
    assert services.progress.feed is None
    assert services.progress.publisher is None
    assert services.store.event_sink is None


def test_a_finished_job_streams_its_whole_log_and_ends(client: TestClient, services: Services) -> None:
    job_id = finished_job(services)
    response = client.get(f"/api/v1/jobs/{job_id}/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.text.startswith("retry: 1000\n\n")
    events = parse(response.text)
    log = services.store.events.job_events(job_id)
    assert [(i, e.seq) for i, e in events] == [(e.seq, e.seq) for e in log]
    assert events[-1][1].final
    assert events[-1][1].status == "succeeded"


def test_last_event_id_resumes_and_204_when_nothing_is_left(client: TestClient, services: Services) -> None:
    job_id = finished_job(services)
    last = services.store.events.job_events(job_id)[-1].seq
    resumed = client.get(f"/api/v1/jobs/{job_id}/events", headers={"Last-Event-ID": "4"})
    assert [i for i, _ in parse(resumed.text)] == list(range(5, last + 1))
    by_query = client.get(f"/api/v1/jobs/{job_id}/events", params={"last_event_id": last - 1})
    assert [i for i, _ in parse(by_query.text)] == [last]
    done = client.get(f"/api/v1/jobs/{job_id}/events", headers={"Last-Event-ID": str(last)})
    assert done.status_code == 204


def test_unknown_job_and_bad_last_event_id(client: TestClient, services: Services) -> None:
    missing = client.get(f"/api/v1/jobs/{uuid.uuid4()}/events")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/jobs/not-a-uuid/events").status_code == 404
    job = submit(services.store)
    bad = client.get(f"/api/v1/jobs/{job.id}/events", headers={"Last-Event-ID": "abc"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_last_event_id"


def test_websocket_sends_each_event_as_json_and_closes_normally(
    client: TestClient, services: Services
) -> None:
    job_id = finished_job(services)
    log = services.store.events.job_events(job_id)
    received: list[dict[str, Any]] = []

    def receive_all(ws: Any) -> None:
        while True:
            received.append(ws.receive_json())

    with (
        client.websocket_connect(f"/api/v1/jobs/{job_id}/ws?last_event_id=2") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        receive_all(ws)
    assert closed.value.code == 1000
    assert [m["seq"] for m in received] == [e.seq for e in log[2:]]
    assert received[-1]["status"] == "succeeded"
    # the event as logged, with the id its owner is shown (progress/cursor.py)
    shown = EventIds(services.store.users.event_key(log[2].owner_id)).event(log[2])
    assert ProgressEvent.from_json(received[0]) == ProgressEvent.from_json(shown.to_json())


def test_websocket_for_an_unknown_job_closes_with_4404(client: TestClient) -> None:
    for job_id in (uuid.uuid4(), "nope"):
        with (
            client.websocket_connect(f"/api/v1/jobs/{job_id}/ws") as ws,
            pytest.raises(WebSocketDisconnect) as closed,
        ):
            ws.receive_json()
        assert closed.value.code == 4404


def test_job_resource_can_show_the_latest_event(services: Services) -> None:
    job_id = finished_job(services)
    event = services.store.events.latest_event(job_id)
    assert event is not None
    assert event.final
    public = job_public(services.store.jobs.get_job(job_id), latest_event=event)
    assert public.latest_event is not None
    assert public.latest_event.seq == services.store.events.job_events(job_id)[-1].seq
    assert public.latest_event.message == "job succeeded"
    assert services.store.events.latest_event(uuid.uuid4()) is None
