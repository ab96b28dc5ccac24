"""The embedded database's files are the owner's alone, like stored files and the local key."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text

from mediajobs.store import create_db_engine, migrate


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_the_sqlite_file_and_its_journals_are_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "data" / "mediajobs.sqlite3"
    old_umask = os.umask(0o022)  # the usual umask, which made the file 0644
    try:
        engine = create_db_engine(f"sqlite:///{path}")
        migrate(engine)
        with engine.connect() as conn:  # WAL: the -wal and -shm files exist while a connection is open
            conn.execute(text("SELECT count(*) FROM jobs"))
            journals = [p for p in path.parent.iterdir() if p != path]
            assert journals, list(path.parent.iterdir())
            assert {p.name: _mode(p) for p in journals} == {p.name: 0o600 for p in journals}
        engine.dispose()
    finally:
        os.umask(old_umask)
    assert _mode(path) == 0o600


def test_an_existing_sqlite_file_is_made_0600(tmp_path: Path) -> None:
    path = tmp_path / "mediajobs.sqlite3"
    path.touch(mode=0o644)
    path.chmod(0o644)
    engine = create_db_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    assert _mode(path) == 0o600
