"""A job's WebSocket over a real socket (uvicorn, SQLite): what it refuses, and how the client learns
why. A refusal at the handshake is a bare HTTP 403 (TestClient shows it as a close code, a browser
as nothing); every refusal here comes after it, as a close code with a reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect
from websockets.typing import Origin

from helpers.auth import user_with_key
from helpers.live_server import live_server
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.domain import Tier
from mediajobs.engines import Engines
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.wiring import Services, build_services

ALLOWED = "https://app.example"


@pytest.fixture
def services(tmp_path: Path, sqlite_url: str) -> Iterator[Services]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_ALLOWED_ORIGINS=[ALLOWED])
    built = build_services(settings, InMemoryPublisher(), engines=Engines())
    yield built
    built.close()


@pytest.fixture
def base(services: Services) -> Iterator[str]:
    with live_server(create_app(services.settings, services=services, maintenance=False)) as url:
        yield url


@pytest.fixture
def key(services: Services) -> str:
    return user_with_key(services.store, "alice", Tier.PRO)[1]


@pytest.fixture
def finished_job(base: str, key: str) -> str:
    """A cancelled job: its socket sends the job's events and closes with 1000."""
    auth = {"Authorization": f"Bearer {key}"}
    body = {"pipeline": "transcribe", "source": "https://example.com/a.mp3"}
    job_id = str(httpx.post(f"{base}/api/v1/jobs", json=body, headers=auth).json()["id"])
    assert httpx.post(f"{base}/api/v1/jobs/{job_id}/cancel", headers=auth).status_code == 200
    return job_id


def closing(url: str, *, origin: str | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """Open the socket (the handshake must succeed), read to the end: (close code, reason)."""
    with ws_connect(
        url, origin=Origin(origin) if origin else None, additional_headers=headers, open_timeout=10
    ) as ws:
        with pytest.raises(ConnectionClosed):
            _read_all(ws)
        assert ws.close_code is not None
        return ws.close_code, ws.close_reason or ""


def _read_all(ws: ClientConnection) -> None:
    while True:
        ws.recv(timeout=10)


@pytest.mark.parametrize("value", [str(2**31), "-1", "abc", "9" * 40])
def test_a_bad_last_event_id_is_accepted_then_closed_with_1008(
    base: str, key: str, finished_job: str, value: str
) -> None:
    url = (
        f"{base.replace('http', 'ws')}/api/v1/jobs/{finished_job}/ws?last_event_id={value}&access_token={key}"
    )
    code, reason = closing(url)
    assert code == 1008
    assert "last_event_id" in reason


def test_a_control_character_in_the_url_is_accepted_then_closed_with_1008(base: str, key: str) -> None:
    code, reason = closing(f"{base.replace('http', 'ws')}/api/v1/jobs/a%01b/ws?access_token={key}")
    assert (code, reason) == (1008, "the URL path contains a control character")


def test_a_cookie_from_another_sites_page_is_closed_with_4403(base: str, key: str, finished_job: str) -> None:
    """Cross-site WebSocket hijacking: the browser sends the cookie, and no CORS rule stops the page."""
    url = f"{base.replace('http', 'ws')}/api/v1/jobs/{finished_job}/ws"
    cookie = {"Cookie": f"mediajobs_key={key}"}
    for origin in ("https://evil.example", "null", None):
        code, reason = closing(url, origin=origin, headers=cookie)
        assert (code, "MEDIAJOBS_ALLOWED_ORIGINS" in reason) == (4403, True), origin
    # The same cookie from the API's own origin, or an allowed one: the job's events, then 1000.
    for origin in (base, ALLOWED):
        assert closing(url, origin=origin, headers=cookie)[0] == 1000, origin


def test_bearer_and_query_keys_need_no_origin(base: str, key: str, finished_job: str) -> None:
    url = f"{base.replace('http', 'ws')}/api/v1/jobs/{finished_job}/ws"
    evil = "https://evil.example"
    assert closing(url, origin=evil, headers={"Authorization": f"Bearer {key}"})[0] == 1000
    assert closing(f"{url}?access_token={key}", origin=evil)[0] == 1000
    # No key at all stays a 4401, whatever the origin (it says nothing about any cookie).
    assert closing(url, origin=evil)[0] == 4401
