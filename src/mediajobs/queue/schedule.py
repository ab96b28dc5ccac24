"""What beat runs, and how often."""

from __future__ import annotations

from typing import Any

from mediajobs.settings import Settings

from .routing import MAINTENANCE_QUEUE

MAINTAIN = "mediajobs.maintain"


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "mediajobs-maintain": {
            "task": MAINTAIN,
            "schedule": max(5.0, settings.maintenance_interval * 5),
            "options": {"queue": f"{settings.queue_prefix}{MAINTENANCE_QUEUE}", "expires": 60},
        }
    }


__all__ = ["MAINTAIN", "beat_schedule"]
