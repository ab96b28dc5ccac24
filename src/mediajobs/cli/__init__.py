"""The `mediajobs` command: run the service (up, api, worker, beat, migrate) and use it (submit, ...).

One module per command group, sharing the app and consoles of common.py: service.py (up, api, worker,
beat, migrate, demo), jobs.py (submit, status, watch, cancel, delete, jobs, retry, rerun), results.py (result,
artifacts), text.py (translate, synthesize), batch.py (`batch ...`), watchfolder.py (watch-folder),
admin.py (users, keys), ops.py (inspect, flower).
"""

from __future__ import annotations

from . import admin, batch, jobs, ops, results, service, text, watchfolder
from .common import app
from .jobs import failed_since, parse_duration


def main() -> None:
    app()


__all__ = [
    "admin",
    "app",
    "batch",
    "failed_since",
    "jobs",
    "main",
    "ops",
    "parse_duration",
    "results",
    "service",
    "text",
    "watchfolder",
]
