"""The whole service on real PostgreSQL and Redis: API in-process, Celery worker as a subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from helpers.settings import make_settings
from helpers.stack import Stack
from mediajobs.api.app import create_app
from mediajobs.store import JobStore, create_db_engine


@pytest.fixture
def stack(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[Stack]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=redis_url)
    engine = create_db_engine(pg_url)
    app = create_app(settings)
    s = Stack(settings=settings, api=TestClient(app), store=JobStore(engine), tmp_path=tmp_path, workers=[])
    with s.api:
        try:
            yield s
        finally:
            for worker in s.workers:
                worker.stop()
    engine.dispose()
