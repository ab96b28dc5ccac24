"""Settings for tests."""

from __future__ import annotations

import uuid
from pathlib import Path

from mediajobs.settings import Settings


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings for tests: short leases and quick maintenance, data under tmp_path."""
    values: dict[str, object] = {
        "MEDIAJOBS_DATA_DIR": tmp_path / "data",
        "MEDIAJOBS_LEASE_SECONDS": 5,
        "MEDIAJOBS_HEARTBEAT_SECONDS": 0.5,
        "MEDIAJOBS_MAINTENANCE_INTERVAL": 0.5,
        "MEDIAJOBS_RETRY_BASE_SECONDS": 0.2,
        "MEDIAJOBS_RETRY_CAP_SECONDS": 2,
        "CELERY_WORKER_CONCURRENCY": 1,
        "MEDIAJOBS_QUEUE_PREFIX": f"t{uuid.uuid4().hex[:6]}.",
        "MEDIAJOBS_ALLOW_PRIVATE_SOURCES": True,  # tests serve media from 127.0.0.1
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]
