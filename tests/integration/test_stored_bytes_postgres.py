"""Issue 23 finding 3 on PostgreSQL over a real socket (uvicorn): concurrent uploads of one user take
the last room of their stored-bytes quota once, never twice; what is refused leaves no file."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from helpers.live_server import live_server
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.domain import Tier
from mediajobs.pipelines import shipped_pipelines
from mediajobs.settings import Settings
from mediajobs.store import JobStore, create_db_engine
from mediajobs.store.tables import UploadRow

QUOTA = 1_000_000
SIZE = 300_000  # three fit, the fourth does not
SENDERS = 8


@pytest.fixture
def settings(tmp_path: Path, pg_url: str, redis_url: str) -> Settings:
    return make_settings(
        tmp_path,
        MEDIAJOBS_DATABASE_URL=pg_url,
        CELERY_BROKER_URL=redis_url,
        MEDIAJOBS_TIER_LIMITS={"free": {"stored_bytes": QUOTA}},
        MEDIAJOBS_MAX_CONCURRENT_UPLOADS=SENDERS,
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[JobStore]:
    assert settings.database_url is not None
    engine = create_db_engine(settings.database_url)
    yield JobStore(engine, pipelines=shipped_pipelines(noop=True))
    engine.dispose()


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_concurrent_uploads_keep_exactly_what_fits(settings: Settings, store: JobStore) -> None:
    user = store.users.create_user("alice", tier=Tier.FREE)
    _, key = store.users.create_key(user.id)
    auth = {"Authorization": f"Bearer {key}"}

    with live_server(create_app(settings, maintenance=False)) as url:

        def send(index: int) -> httpx.Response:
            with httpx.Client(base_url=url, timeout=60) as client:
                files = {"file": (f"f{index}.wav", bytes([index]) * SIZE, "audio/wav")}
                return client.post("/api/v1/uploads", files=files, headers=auth)

        with ThreadPoolExecutor(max_workers=SENDERS) as pool:
            responses = list(pool.map(send, range(SENDERS)))
        with httpx.Client(base_url=url, timeout=30) as client:
            me = client.get("/api/v1/me", headers=auth).json()
            kept = [r.json()["id"] for r in responses if r.status_code == 201]
            for upload_id in kept:
                assert client.delete(f"/api/v1/uploads/{upload_id}", headers=auth).status_code == 204
            after = client.get("/api/v1/me", headers=auth).json()

    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 3 + [413] * (SENDERS - 3), [r.text for r in responses]
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 413} == {
        "storage_quota_exceeded"
    }
    assert me["usage"]["stored_bytes"] == 3 * SIZE
    assert me["limits"]["stored_bytes"] == QUOTA
    assert after["usage"]["stored_bytes"] == 0
    assert files_under(settings.resolved_storage_dir / "uploads") == []
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(UploadRow)).scalar_one() == 0
