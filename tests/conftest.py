"""Fixtures shared by every tier: isolated PostgreSQL databases and Redis keyspaces, settings."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from helpers.settings import make_settings
from mediajobs.store import create_db_engine, migrate

PG_ADMIN_URL = os.environ.get("MEDIAJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MEDIAJOBS_TEST_REDIS", "redis://127.0.0.1:6379")

_redis_dbs = itertools.cycle(range(1, 16))


def _pg_url(database: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


def _admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated database that per-test databases are copied from (fast: no migration per test)."""
    name = f"mj_tpl_{os.getpid()}"
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _admin(f"CREATE DATABASE {name}")
    engine = create_db_engine(_pg_url(name))
    migrate(engine)
    engine.dispose()
    yield name
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of this test's own."""
    name = f"mj_{uuid.uuid4().hex[:12]}"
    _admin(f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    yield _pg_url(name)
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def redis_url() -> str:
    """A Redis database of this test's own, emptied first."""
    url = f"{REDIS_URL}/{next(_redis_dbs)}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    migrate(engine)
    engine.dispose()
    return f"sqlite:///{tmp_path / 'jobs.sqlite3'}"


__all__ = ["make_settings"]
