"""Event ids say nothing about other users (issue 23, finding 16): one counter numbers every user's
events, and shown as they were, the gaps between a user's own ids counted everybody else's events.
Each user now sees them through a keyed permutation under a key of their own (progress/cursor.py)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from helpers.progress import run_job, submit
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.client import SseParser
from mediajobs.engines import Engines
from mediajobs.progress import FollowTimings
from mediajobs.progress.cursor import MAX_SHOWN_ID, EventIds
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.wiring import Services, build_services


@pytest.fixture
def services(tmp_path: Path, sqlite_url: str) -> Iterator[Services]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url)
    built = build_services(settings, InMemoryPublisher(), engines=Engines())
    built.progress.timings = FollowTimings(poll=0.02)
    yield built
    built.close()


def test_shown_ids_are_a_keyed_permutation() -> None:
    one, other = EventIds(b"k" * 32), EventIds(b"q" * 32)
    samples = [0, 1, 2, 3, MAX_SHOWN_ID, *random.Random(7).sample(range(MAX_SHOWN_ID), 200)]
    assert [one.real(one.shown(n)) for n in samples] == samples
    assert len({one.shown(n) for n in samples}) == len(samples)
    assert [one.shown(n) for n in range(1, 6)] != [other.shown(n) for n in range(1, 6)]
    with pytest.raises(ValueError, match="62-bit"):
        one.shown(MAX_SHOWN_ID + 1)


def _data_ids(body: str) -> list[int]:
    parser, ids = SseParser(), []
    for line in body.split("\n"):
        message = parser.feed(line)
        if message is not None and message.data:
            ids.append(int(json.loads(message.data)["id"]))
    return ids


def test_a_users_event_ids_do_not_count_other_users_events(services: Services) -> None:
    store = services.store
    alice = store.users.create_user("alice")
    _, key = store.users.create_key(alice.id)
    first = submit(store, owner=alice.id)
    run_job(store, first.id)
    for _ in range(3):  # bob's activity between alice's two jobs
        run_job(store, submit(store, owner=store.users.get_user("local").id).id)
    second = submit(store, owner=alice.id)
    run_job(store, second.id)
    with TestClient(create_app(services.settings, services=services, maintenance=False)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        shown = [_data_ids(client.get(f"/api/v1/jobs/{job.id}/events").text) for job in (first, second)]
        latest = client.get(f"/api/v1/jobs/{second.id}").json()["latest_event"]["id"]
    real = [[e.id for e in store.events.job_events(job.id)] for job in (first, second)]
    assert real[1][0] - real[0][-1] > 1  # the counter moved with the other user's events
    ids = EventIds(store.users.event_key(alice.id))
    assert shown == [[ids.shown(n) for n in job] for job in real]
    assert latest == shown[1][-1]
    assert not set(shown[0] + shown[1]) & set(real[0] + real[1])  # no real id is ever shown
