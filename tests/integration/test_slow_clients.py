"""Clients that send their bodies slowly, or stop: they cost the API no thread, they are cut after the
idle timeout, and one user cannot keep more than a few of them going (uvicorn, raw sockets,
PostgreSQL and Redis).

The attack of issue 23: sockets that send a multipart head and then one byte every few seconds. Each
held one of AnyIO's 40 worker threads, so 41 of them froze every route that needs one (authentication,
database reads) and `/healthz`. Here the bytes are trickled in rounds, as fast as the test can go:
what matters is that the bodies are open and unfinished, not how slowly they come.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers.auth import user_with_key
from helpers.live_server import live_server
from helpers.processes import wait_for
from helpers.raw_http import connect, read_response, request_head, start_upload, trickle
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.domain import Tier
from mediajobs.settings import Settings
from mediajobs.store import JobStore, create_db_engine

TRICKLES = 100


def _settings(tmp_path: Path, pg_url: str, redis_url: str, **overrides: object) -> Settings:
    return make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=redis_url, **overrides)


def _keys(settings: Settings, *names: str) -> list[str]:
    """A key for each of these new (enterprise: no rate limit in the way) users."""
    assert settings.database_url is not None
    engine = create_db_engine(settings.database_url)
    try:
        return [user_with_key(JobStore(engine), name, Tier.ENTERPRISE)[1] for name in names]
    finally:
        engine.dispose()


def _incoming(settings: Settings) -> list[Path]:
    """Uploads being written: storage's temp files."""
    folder = settings.resolved_storage_dir / ".incoming"
    return list(folder.iterdir()) if folder.is_dir() else []


def _stored(settings: Settings) -> list[Path]:
    return [p for p in settings.resolved_storage_dir.rglob("*") if p.is_file()]


def _timed_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, float]:
    """(status, seconds) of a GET on a new connection; a ReadTimeout past 5 s fails the test."""
    started = time.monotonic()
    response = httpx.get(url, headers=headers, timeout=5)
    return response.status_code, time.monotonic() - started


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def test_a_hundred_trickling_uploads_leave_health_and_other_users_unharmed(
    tmp_path: Path, pg_url: str, redis_url: str, sockets: list[socket.socket]
) -> None:
    settings = _settings(
        tmp_path,
        pg_url,
        redis_url,
        MEDIAJOBS_MAX_CONCURRENT_UPLOADS=TRICKLES,  # one user may send all of them, for this test
        MEDIAJOBS_BODY_IDLE_TIMEOUT_SECONDS=120,  # the trickles stay open while the test runs
    )
    trickler, other = _keys(settings, "trickler", "other")
    with live_server(create_app(settings, maintenance=False)) as base:
        sockets.extend(start_upload(base, trickler) for _ in range(TRICKLES))
        # AnyIO's pool has 40 threads: at least that many bodies are read whatever the code does.
        wait_for(lambda: len(_incoming(settings)) >= 40, timeout=30, message="40 uploads streaming")
        latencies: list[float] = []
        for _ in range(5):
            trickle(sockets)
            status, seconds = _timed_get(f"{base}/healthz")
            assert status == 200
            latencies.append(seconds)
            status, seconds = _timed_get(f"{base}/api/v1/jobs", {"Authorization": f"Bearer {other}"})
            assert status == 200
            latencies.append(seconds)
        # Every body is being read at once, none of them holding a thread.
        wait_for(lambda: len(_incoming(settings)) == TRICKLES, timeout=30, message="all uploads streaming")
        for _ in range(5):
            trickle(sockets)
            for url, headers in ((f"{base}/healthz", {}), (f"{base}/readyz", {})):
                status, seconds = _timed_get(url, headers)
                assert status == 200
                latencies.append(seconds)
        print(f"healthz / readyz / another user's GET under {TRICKLES} trickles: max {max(latencies):.3f} s")
        assert max(latencies) < 1.0, latencies
        for sock in sockets:  # the clients go away mid-body: their partial uploads go too
            sock.close()
        wait_for(lambda: not _stored(settings), timeout=30, message="partial uploads removed")


@pytest.mark.parametrize("path", ["/api/v1/uploads", "/api/v1/jobs"])
def test_an_upload_that_goes_quiet_is_answered_408_and_removed(
    tmp_path: Path, pg_url: str, redis_url: str, sockets: list[socket.socket], path: str
) -> None:
    settings = _settings(tmp_path, pg_url, redis_url, MEDIAJOBS_BODY_IDLE_TIMEOUT_SECONDS=0.5)
    (key,) = _keys(settings, "quiet")
    with live_server(create_app(settings, maintenance=False)) as base:
        sock = start_upload(base, key, path=path)
        sockets.append(sock)
        trickle([sock], b"\0" * 1000)
        response = read_response(sock, timeout=10)  # the body never comes: the server gives up first
        assert response.status == 408, response.body
        assert response.json()["error"]["code"] == "body_timeout"
        assert response.closed
        wait_for(lambda: not _stored(settings), timeout=10, message="partial upload removed")


def test_a_json_body_that_goes_quiet_is_answered_408(
    tmp_path: Path, pg_url: str, redis_url: str, sockets: list[socket.socket]
) -> None:
    settings = _settings(tmp_path, pg_url, redis_url, MEDIAJOBS_BODY_IDLE_TIMEOUT_SECONDS=0.5)
    (key,) = _keys(settings, "quiet")
    with live_server(create_app(settings, maintenance=False)) as base:
        sock = connect(base)
        sockets.append(sock)
        headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Content-Length": "200",
        }
        sock.sendall(request_head("POST", "/api/v1/jobs", headers) + b'{"pipeline": "transcr')
        response = read_response(sock, timeout=10)
        assert response.status == 408, response.body
        assert response.json()["error"]["code"] == "body_timeout"


def test_one_user_streams_at_most_the_cap_of_uploads_at_once(
    tmp_path: Path, pg_url: str, redis_url: str, sockets: list[socket.socket]
) -> None:
    settings = _settings(tmp_path, pg_url, redis_url, MEDIAJOBS_MAX_CONCURRENT_UPLOADS=2)
    greedy, other = _keys(settings, "greedy", "other")
    with live_server(create_app(settings, maintenance=False)) as base:
        sockets.extend(start_upload(base, greedy) for _ in range(2))
        wait_for(lambda: len(_incoming(settings)) == 2, timeout=30, message="two uploads streaming")

        third = start_upload(base, greedy)
        sockets.append(third)
        refused = read_response(third, timeout=10)
        assert refused.status == 429, refused.body
        assert refused.json()["error"]["code"] == "too_many_uploads"
        assert int(refused.headers["retry-after"]) >= 1

        def upload(key: str) -> httpx.Response:
            return httpx.post(
                f"{base}/api/v1/uploads",
                files={"file": ("talk.wav", b"RIFF" + b"\1" * 100, "audio/wav")},
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            )

        assert upload(other).status_code == 201  # the cap is per user
        sockets.pop(0).close()  # one of the two goes away: its slot is free again
        wait_for(lambda: upload(greedy).status_code == 201, timeout=10, message="a slot freed")
        sockets.pop(0).close()
        wait_for(lambda: not _incoming(settings), timeout=10, message="the last partial upload removed")
