"""Where the test services are, and administrative SQL against PostgreSQL."""

from __future__ import annotations

import os

import psycopg

PG_ADMIN_URL = os.environ.get("MEDIAJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MEDIAJOBS_TEST_REDIS", "redis://127.0.0.1:6379")


def pg_url(database: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


def admin(sql: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE)."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]
