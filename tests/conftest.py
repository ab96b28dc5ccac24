"""Fixtures shared by every tier: isolated PostgreSQL databases and Redis keyspaces, settings."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from helpers.db import REDIS_URL, admin
from helpers.db import pg_url as _pg_url
from helpers.leaks import check_no_leaks, start_watching
from helpers.settings import make_settings
from mediajobs.store import create_db_engine, migrate

_redis_dbs = itertools.cycle(range(1, 16))


def pytest_sessionstart(session: pytest.Session) -> None:
    start_watching()  # orphans of tests re-parent to pytest, so the check below sees them


def pytest_sessionfinish(session: pytest.Session) -> None:
    check_no_leaks(session)  # after every fixture's teardown: a live child of pytest is a leak


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated database that per-test databases are copied from (fast: no migration per test)."""
    name = f"mj_tpl_{os.getpid()}"
    admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin(f"CREATE DATABASE {name}")
    engine = create_db_engine(_pg_url(name))
    migrate(engine)
    engine.dispose()
    yield name
    admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _fresh_database(template: str) -> Iterator[str]:
    name = f"mj_{uuid.uuid4().hex[:12]}"
    admin(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield _pg_url(name)
    admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _fresh_redis() -> str:
    url = f"{REDIS_URL}/{next(_redis_dbs)}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of this test's own."""
    yield from _fresh_database(pg_template)


@pytest.fixture
def redis_url() -> str:
    """A Redis database of this test's own, emptied first."""
    return _fresh_redis()


@pytest.fixture(scope="module")
def module_pg_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database shared by the tests of one module (one stack for all)."""
    yield from _fresh_database(pg_template)


@pytest.fixture(scope="module")
def module_redis_url() -> str:
    """A Redis database shared by the tests of one module, emptied first."""
    return _fresh_redis()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    migrate(engine)
    engine.dispose()
    return f"sqlite:///{tmp_path / 'jobs.sqlite3'}"


__all__ = ["make_settings"]
