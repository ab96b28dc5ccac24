"""What beat runs, and how often."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from mediajobs.settings import Settings

from .routing import maintenance_queue

MAINTAIN = "mediajobs.maintain"
PERIODIC = "mediajobs.periodic"


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The housekeeping tasks on UTC calendar times (each runs at most once per period however many
    beats send it: see housekeeping.py). The lease reaper and relay are not beat's: one worker's
    main process runs them every few seconds (worker.py, `MaintenanceLoop`)."""
    queue = maintenance_queue(settings.queue_prefix)
    periodic = {
        "rollover": crontab(minute="0", hour="0", day_of_month="1"),
        "usage": crontab(minute="0"),
        "cleanup": crontab(minute="0", hour="2"),
    }
    return {
        f"mediajobs-{name}": {
            "task": PERIODIC,
            "schedule": when,
            "args": (name,),
            "options": {"queue": queue, "expires": 3000},
        }
        for name, when in periodic.items()
    }


__all__ = ["MAINTAIN", "PERIODIC", "beat_schedule"]
