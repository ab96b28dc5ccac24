"""Database engines and schema migrations (Alembic), for PostgreSQL and the embedded SQLite."""

from __future__ import annotations

import contextlib
import os
import select
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

from mediajobs.errors import NotMigrated

from .diagnostics import attach_counter

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

TCP_KEEPALIVES: dict[str, Any] = {
    # A worker on another host whose network is cut (a partition, a dead NAT entry) sees no FIN or
    # RST: without these, a query waits on the socket for the kernel's defaults (two hours idle, some
    # fifteen minutes of retransmissions). Probes after 10 s idle, every 5 s, 3 unanswered: dead in
    # about 25 s; unacknowledged data gives up after 30 s. The lease has long expired by then and
    # another worker finishes the stage; this one learns it lost the lease when it is back.
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30000,  # milliseconds
}


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` / `postgres://` URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def create_db_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for the job store. SQLite gets WAL, a busy timeout and write-locking transactions."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _owner_only(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        _configure_sqlite(engine)
    else:
        # libpq parameters given in the URL's query win over these defaults
        connect_args = {k: v for k, v in TCP_KEEPALIVES.items() if k not in parsed.query}
        engine = create_engine(
            url, pool_size=pool_size, max_overflow=pool_size * 2, connect_args=connect_args
        )
        _check_on_checkout(engine)
    attach_counter(engine)
    return engine


def _owner_only(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600, like stored files and the local key:
    it holds every job, upload name and key hash), and tighten an existing one and its journals.
    SQLite gives the -wal and -shm files it creates the mode of the database file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        with contextlib.suppress(FileNotFoundError, PermissionError):  # not ours: leave it be
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)


def _check_on_checkout(engine: Engine) -> None:
    """Discard a pooled connection the server has closed, before anyone uses it, without a round
    trip: an idle connection has nothing to read, so a readable socket means the server hung up
    (a restart, `pg_terminate_backend`, an idle timeout: the server's goodbye or the end of the
    stream). This replaces `pool_pre_ping`, whose `SELECT 1` cost a round trip per checkout; the
    pool opens a new connection instead (SQLAlchemy retries a checkout that raises
    `DisconnectionError`)."""

    @event.listens_for(engine.pool, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if _hung_up(dbapi_connection):
            raise DisconnectionError("the server closed this pooled connection")


def _hung_up(dbapi_connection: Any) -> bool:
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and upgrades read locks to write locks
    # lazily, which fails at once under contention; take the write lock when a transaction begins.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def head_revision() -> str:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> str:
    """Upgrade the schema to the head revision; returns it."""
    config = _alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return head_revision()


def ensure_migrated(engine: Engine) -> None:
    """Refuse to run against a database that is not at the head revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        state = "not migrated" if current is None else f"at revision {current}, code expects {head}"
        raise NotMigrated(f"database {where} is {state}: run `mediajobs migrate` first")
