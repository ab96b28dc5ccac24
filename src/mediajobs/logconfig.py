"""The log lines of every mediajobs process (API, worker, beat, `up`): one JSON object per line when
the output is not a terminal (a container, a file, journald), readable text on a terminal;
MEDIAJOBS_LOG_FORMAT (`auto`, `json`, `text`) overrides the choice.

A JSON line carries `time`, `level`, `logger`, `message`, `role` (api, worker, beat, up) and what
the line is about: `job`, `stage`, `attempt`, `worker`, `user`, `queue`, `pipeline`, `lane`,
`duration`, `outcome`. The stage fields are also put on every other line logged in the stage's
thread while it runs (`bind_context`, set by hooks/logs.py), so a warning from an engine says which
job and stage it belongs to.

Quiet at info and above: a stage logs two lines (it started, it ended), Celery's own per-task lines
("received", "succeeded in") and alembic's "Context impl" lines at every start are left out (the
debug level shows them), and Python warnings (Celery's superuser warning) become one log line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, Literal, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

Format = Literal["json", "text"]

FIELDS = ("job", "stage", "attempt", "worker", "user", "queue", "pipeline", "lane", "duration", "outcome")
"""The structured fields a line may carry (`extra=` of a log call, or the bound context)."""

QUIET = {
    "alembic.runtime.migration": logging.WARNING,  # "Context impl PostgresqlImpl." at every start
    "celery.worker.strategy": logging.WARNING,  # "Task ... received": our "stage started" line says it
    "celery.app.trace": logging.WARNING,  # "Task ... succeeded in": our "stage ended" line says it
    "celery.beat": logging.WARNING,  # "Sending due task mediajobs-maintain" every 10 s
}

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_context: ContextVar[Mapping[str, Any] | None] = ContextVar("mediajobs_log_context", default=None)


def bind_context(**fields: Any) -> None:
    """Put `fields` on every line this thread logs until `clear_context()`."""
    _context.set({k: v for k, v in fields.items() if v is not None})


def clear_context() -> None:
    _context.set(None)


class ContextFilter(logging.Filter):
    """Adds the bound context's fields to a record (a field the call gave itself wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_context.get() or {}).items():
            if name not in record.__dict__:
                setattr(record, name, value)
        return True


def resolve_format(setting: str, stream: TextIO) -> Format:
    """`auto`: text on a terminal, JSON anywhere else."""
    if setting in ("json", "text"):
        return setting  # type: ignore[return-value]
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):  # a closed or unusual stream
        return "json"


def json_formatter(role: str) -> logging.Formatter:
    return JsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        static_fields={"role": role},
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's copy of the message with colours
    )


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure_logging installs (so a second call replaces it, not adds one)."""


def configure_logging(
    *, role: str, level: str | int = "info", log_format: str = "auto", stream: TextIO | None = None
) -> Format:
    """This process's logging: one handler on the root logger, in the chosen format; returns it."""
    stream = stream if stream is not None else sys.stderr
    chosen = resolve_format(log_format, stream)
    handler = _OurHandler(stream)
    handler.setFormatter(json_formatter(role) if chosen == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        if isinstance(old, _OurHandler):
            old.close()
    root.addHandler(handler)
    # billiard (Celery's pool) logs "Process ... exited" to `multiprocessing`, which does not propagate
    billiard = logging.getLogger("multiprocessing")
    for old in [h for h in billiard.handlers if isinstance(h, _OurHandler)]:
        billiard.removeHandler(old)
    billiard.addHandler(handler)
    billiard.propagate = False
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(quiet if root.level > logging.DEBUG else logging.NOTSET)
    logging.captureWarnings(True)
    return chosen


__all__ = [
    "FIELDS",
    "ContextFilter",
    "bind_context",
    "clear_context",
    "configure_logging",
    "json_formatter",
    "resolve_format",
]
