"""Counting the SQL a process sends, for budgets and benchmarks: `MEDIAJOBS_SQL_COUNTS=<folder>`.

With the variable set, every engine `create_db_engine` makes counts its statements, commits (a write
sent in autocommit counts as one: it commits on its own) and pool checkouts, and the process
writes its totals to `<folder>/<pid>.json` about every half second (pool processes of a worker
end with `os._exit`, so there is no exit hook to rely on). Off by default; costs nothing then.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

ENV = "MEDIAJOBS_SQL_COUNTS"
_lock = threading.Lock()
_counts = {"statements": 0, "commits": 0, "checkouts": 0}
_writer: tuple[int, threading.Thread] | None = None  # (pid, thread): a forked child starts its own


def _bump(name: str) -> None:
    with _lock:
        _counts[name] += 1


def _write_forever(folder: Path, pid: int) -> None:
    target = folder / f"{pid}.json"
    stop = threading.Event()
    while not stop.wait(0.5):
        with _lock:
            snapshot = dict(_counts)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(snapshot))
        os.replace(tmp, target)


def attach_counter(engine: Engine) -> None:
    """Count this engine's SQL when `MEDIAJOBS_SQL_COUNTS` names a folder."""
    folder = os.environ.get(ENV)
    if not folder:
        return
    global _writer
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    with _lock:
        if _writer is None or _writer[0] != os.getpid():
            _counts.update(statements=0, commits=0, checkouts=0)
            thread = threading.Thread(
                target=_write_forever, args=(path, os.getpid()), daemon=True, name="sql-counts"
            )
            _writer = (os.getpid(), thread)
            thread.start()

    def on_statement(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        _bump("statements")
        if commits_on_its_own(conn, statement):
            _bump("commits")

    def on_commit(*_: Any) -> None:
        _bump("commits")

    def on_checkout(*_: Any) -> None:
        _bump("checkouts")

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    event.listen(engine.pool, "checkout", on_checkout)


def commits_on_its_own(conn: Any, statement: str) -> bool:
    """A write sent on a connection in autocommit: it is a commit of its own (a server round trip
    that waits for the WAL flush) although no COMMIT is sent."""
    autocommit = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    return autocommit and statement.lstrip()[:6].upper() in {"INSERT", "UPDATE", "DELETE"}


def read_counts(folder: Path, pids: set[int] | None = None) -> dict[str, int]:
    """The totals of every process that wrote into `folder` (or of the processes `pids`)."""
    total = {"statements": 0, "commits": 0, "checkouts": 0, "processes": 0}
    for file in folder.glob("*.json"):
        if pids is not None and int(file.stem) not in pids:
            continue
        data = json.loads(file.read_text())
        total["processes"] += 1
        for key in ("statements", "commits", "checkouts"):
            total[key] += int(data.get(key, 0))
    return total


__all__ = ["ENV", "attach_counter", "read_counts"]
