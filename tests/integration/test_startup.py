"""Processes refuse to start on an unmigrated database, and `mediajobs migrate` fixes that."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mediajobs.store import create_db_engine, current_revision, head_revision


def _run(
    args: list[str], data_dir: Path, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CELERY_", "MEDIAJOBS_")) and k != "REDIS_URL"
    }
    env["MEDIAJOBS_DATA_DIR"] = str(data_dir)
    if database_url:
        env["MEDIAJOBS_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "mediajobs", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", [["worker"], ["api", "--port", "0"], ["beat"]])
def test_refuses_an_unmigrated_database(tmp_path: Path, command: list[str]) -> None:
    result = _run(command, tmp_path)
    assert result.returncode == 1
    assert "not migrated" in result.stderr
    assert "mediajobs migrate" in result.stderr


def test_migrate_brings_postgres_to_head(tmp_path: Path, pg_template: str) -> None:
    import uuid

    import psycopg

    from helpers.db import PG_ADMIN_URL

    name = f"mj_fresh_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        result = _run(["migrate"], tmp_path, url)
        assert result.returncode == 0, result.stderr
        assert head_revision() in result.stdout
        engine = create_db_engine(url)
        assert current_revision(engine) == head_revision()
        engine.dispose()
        again = _run(["migrate"], tmp_path, url)  # idempotent
        assert again.returncode == 0
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
