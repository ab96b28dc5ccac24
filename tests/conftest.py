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


def _redis_databases() -> range:
    """Databases 1-15 of the test Redis, shared out between the processes of a parallel run.

    Under pytest-xdist (scripts/test, MEDIAJOBS_TEST_PROCESSES) worker gwN of W takes its own slice,
    so two processes never flush each other's database.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count <= 1:
        return range(1, 16)
    size = 15 // count
    if size < 2:
        raise pytest.UsageError(f"at most 7 test processes share one Redis (asked for {count})")
    index = int(worker[2:])
    return range(1 + index * size, 1 + (index + 1) * size)


_redis_dbs = itertools.cycle(_redis_databases())


def _is_xdist_controller(config: pytest.Config) -> bool:
    """The process that hands tests to xdist workers runs none itself (and its children are workers)."""
    return bool(getattr(config.option, "numprocesses", None)) and "PYTEST_XDIST_WORKER" not in os.environ


def pytest_sessionstart(session: pytest.Session) -> None:
    if not _is_xdist_controller(session.config):
        start_watching()  # orphans of tests re-parent to pytest, so the check below sees them


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _is_xdist_controller(session.config):
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
