"""The whole service on real PostgreSQL and Redis: API in-process, Celery worker as a subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.settings import make_settings
from helpers.stack import Stack, open_stack


@pytest.fixture
def stack(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[Stack]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=redis_url)
    with open_stack(settings, tmp_path) as s:
        yield s
