"""The `mediajobs` command: run the service (up, api, worker, beat, migrate) and use it (submit, ...).

One module per command group (service.py, jobs.py, admin.py, ops.py), sharing the app and consoles of
common.py.
"""

from __future__ import annotations

from . import admin, jobs, ops, service
from .common import app
from .jobs import failed_since, parse_duration


def main() -> None:
    app()


__all__ = ["admin", "app", "failed_since", "jobs", "main", "ops", "parse_duration", "service"]
