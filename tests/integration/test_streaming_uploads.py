"""Upload limits hold while the body streams, over a real socket (uvicorn), on PostgreSQL."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from helpers.auth import new_key
from helpers.live_server import live_server
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.pipelines import shipped_pipelines
from mediajobs.settings import Settings
from mediajobs.store import JobStore, create_db_engine
from mediajobs.store.tables import UploadRow

LIMIT = 1024 * 1024
BODY = 800 * 1024 * 1024
CHUNK = 256 * 1024


@pytest.fixture
def settings(tmp_path: Path, pg_url: str, redis_url: str) -> Settings:
    return make_settings(
        tmp_path,
        MEDIAJOBS_DATABASE_URL=pg_url,
        CELERY_BROKER_URL=redis_url,
        MEDIAJOBS_UPLOAD_MAX_BYTES=LIMIT,
        MEDIAJOBS_MAX_CONCURRENT_UPLOADS=20,  # twenty submits of one user at once, below
    )


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where a temporary file of this process would go (Starlette spooled bodies there)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def base_url(settings: Settings) -> Iterator[str]:
    with live_server(create_app(settings, maintenance=False)) as url:
        yield url


@pytest.fixture
def auth(settings: Settings) -> dict[str, str]:
    """The local admin's key (a key of its own for this test)."""
    assert settings.database_url is not None
    engine = create_db_engine(settings.database_url)
    try:
        return {
            "Authorization": f"Bearer {new_key(JobStore(engine, pipelines=shipped_pipelines(noop=True)))}"
        }
    finally:
        engine.dispose()


class Body:
    """An 800 MB multipart body, made as it is sent; counts how much the server let through."""

    def __init__(self, boundary: str = "bnd") -> None:
        self.boundary = boundary
        self.sent = 0

        self.head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
        self.tail = f"\r\n--{boundary}--\r\n"

    @property
    def length(self) -> int:
        return len(self.head) + BODY + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self.head.encode()
        block = b"\0" * CHUNK
        while self.sent < BODY:
            self.sent += CHUNK
            yield block
        yield self.tail.encode()


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


@pytest.mark.parametrize("path", ["/api/v1/uploads", "/api/v1/jobs"])
@pytest.mark.parametrize("announced", [False, True], ids=["chunked", "content-length"])
def test_an_800_mb_body_is_cut_at_a_1_mib_limit_with_nothing_on_disk(
    base_url: str, settings: Settings, spool: Path, auth: dict[str, str], path: str, announced: bool
) -> None:
    body = Body()
    headers = {"content-type": f"multipart/form-data; boundary={body.boundary}", **auth}
    if announced:
        headers["content-length"] = str(body.length)
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post(path, content=iter(body), headers=headers)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "payload_too_large"
    # The socket buffers hold a few MiB at most: far from 800 MB.
    assert body.sent < 32 * 1024 * 1024, body.sent
    if announced:
        assert body.sent < 8 * 1024 * 1024  # refused on the header, before reading
    print(f"{path} ({'content-length' if announced else 'chunked'}): client sent {body.sent} bytes")
    assert files_under(settings.resolved_storage_dir) == []
    assert files_under(spool) == []


def test_twenty_concurrent_idempotent_multipart_submits_store_one_upload(
    base_url: str, settings: Settings, auth: dict[str, str]
) -> None:
    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            return client.post(
                "/api/v1/jobs",
                files={"file": ("talk.wav", b"RIFF" + b"\x01" * 2000, "audio/wav")},
                headers={"Idempotency-Key": "one-key", **auth},
            )

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(send, range(20)))
    assert {r.status_code for r in responses} == {202}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 19
    assert len(files_under(settings.resolved_storage_dir / "uploads")) == 1
    assert settings.database_url is not None
    engine = create_db_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(UploadRow)).scalar_one() == 1
    finally:
        engine.dispose()
