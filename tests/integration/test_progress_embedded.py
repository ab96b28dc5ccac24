"""The embedded default (SQLite, no Redis): the same event endpoints follow the database log."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers.auth import new_key
from helpers.live_server import live_server
from helpers.progress import run_job, sse_events, submit
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.client import Client
from mediajobs.domain.events import ProgressEvent
from mediajobs.engines import Engines
from mediajobs.progress import FollowTimings
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.wiring import Services, build_services


@pytest.fixture
def services(tmp_path: Path, sqlite_url: str) -> Iterator[Services]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url)
    assert settings.embedded
    built = build_services(settings, InMemoryPublisher(), engines=Engines())
    built.progress.timings = FollowTimings(heartbeat=0.2, poll=0.05)
    yield built
    built.close()


def test_sse_and_the_python_client_follow_the_database_log(services: Services) -> None:
    assert services.progress.feed is None
    store = services.store
    job = submit(store)
    key = new_key(store)
    app = create_app(services.settings, services=services, maintenance=False)
    with live_server(app) as url:
        via_client: list[ProgressEvent] = []
        following = threading.Event()

        def follow() -> None:
            with Client(url, api_key=key) as client:
                for event in client.subscribe_progress(str(job.id)):
                    via_client.append(event)
                    following.set()

        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        with (
            httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as http,
            http.stream("GET", f"/api/v1/jobs/{job.id}/events") as response,
        ):
            assert response.status_code == 200
            raw_lines = response.iter_lines()
            first = next(raw_lines)
            assert first == "retry: 1000"
            assert following.wait(10)
            keep_alive = next(line for line in raw_lines if line.startswith(":"))  # the job is quiet
            assert keep_alive == ": keep-alive"
            run_job(store, job.id)
            events = [e for _, e in sse_events(raw_lines)]
        thread.join(20)
        assert not thread.is_alive()
    log = store.events.job_events(job.id)
    assert [e.seq for e in via_client] == [e.seq for e in log]
    assert [e.seq for e in events] == [e.seq for e in log[1:]]  # seq 1 came before the keep-alive
    assert events[-1].final
