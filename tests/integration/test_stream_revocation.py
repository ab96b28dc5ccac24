"""Event streams stop when their key does (issue 23, finding 9): a stream authenticates when it opens,
and a key revoked (or a user disabled) afterwards must not go on receiving a job's events. Over a real
socket (uvicorn, SQLite), with the default key cache: a stream ends within the cache's seconds plus
one keep-alive interval, SSE with a last `: unauthorized` line (the reconnect then gets the 401) and
the WebSocket with 4401."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from helpers.auth import user_with_key
from helpers.live_server import live_server
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.domain import Tier
from mediajobs.engines import Engines
from mediajobs.progress import FollowTimings
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.wiring import Services, build_services

HEARTBEAT = 0.2  # seconds between keep-alives (15 by default; only the test's wait depends on it)


@pytest.fixture
def services(tmp_path: Path, sqlite_url: str) -> Iterator[Services]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url)
    built = build_services(settings, InMemoryPublisher(), engines=Engines())
    built.progress.timings = FollowTimings(heartbeat=HEARTBEAT, poll=0.05)
    yield built
    built.close()


@pytest.fixture
def base(services: Services) -> Iterator[str]:
    with live_server(create_app(services.settings, services=services, maintenance=False)) as url:
        yield url


def _deadline_lines(lines: Iterator[str], deadline: float) -> list[str]:
    """The stream's lines until the server ends it; fails past `deadline` (a stream that goes on)."""
    seen = []
    for line in lines:
        seen.append(line)
        assert time.monotonic() < deadline, "the stream went on after its key stopped being valid"
    return seen


def _read_to_close(ws: ClientConnection, deadline: float) -> None:
    """Messages until the socket closes (ConnectionClosed); TimeoutError past `deadline`."""
    while True:
        ws.recv(timeout=max(0.1, deadline - time.monotonic()))


def test_revoked_key_and_disabled_user_lose_their_open_streams(base: str, services: Services) -> None:
    store = services.store
    _, alice_key = user_with_key(store, "alice", Tier.PRO)
    bob_id, bob_key = user_with_key(store, "bob", Tier.PRO)
    body = {"pipeline": "transcribe", "source": "https://example.com/a.mp3"}
    alice = {"Authorization": f"Bearer {alice_key}"}
    job_id = httpx.post(f"{base}/api/v1/jobs", json=body, headers=alice).json()["id"]  # stays queued
    ws_url = f"{base.replace('http', 'ws')}/api/v1/jobs/{job_id}/ws?access_token={alice_key}"

    with (
        httpx.Client(base_url=base, timeout=10) as http,
        http.stream("GET", f"/api/v1/jobs/{job_id}/events", headers=alice) as job_stream,
        http.stream("GET", "/api/v1/events", params={"access_token": bob_key}) as user_stream,
        ws_connect(ws_url, open_timeout=10) as ws,
    ):
        assert job_stream.status_code == user_stream.status_code == 200
        job_lines, user_lines = job_stream.iter_lines(), user_stream.iter_lines()
        # Both streams are live and keep going across several keep-alives while the keys are valid.
        for lines in (job_lines, user_lines):
            keep_alives = 0
            while keep_alives < 3:
                keep_alives += next(lines) == ": keep-alive"

        store.users.revoke_key(alice_key)
        store.users.disable_user(bob_id)
        deadline = time.monotonic() + services.settings.key_cache_seconds + 10 * HEARTBEAT + 5

        assert _deadline_lines(job_lines, deadline)[-2:] == [": unauthorized", ""]
        assert _deadline_lines(user_lines, deadline)[-2:] == [": unauthorized", ""]
        with pytest.raises(ConnectionClosed):
            _read_to_close(ws, deadline)
        assert ws.close_code == 4401
        assert "not valid" in (ws.close_reason or "")

        # EventSource's reconnect is refused.
        again = http.get(f"/api/v1/jobs/{job_id}/events", headers=alice)
        assert again.status_code == 401
        assert http.get("/api/v1/events", params={"access_token": bob_key}).status_code == 401
