"""A plug-in with a durable hook: each ended job is written to a ledger file (the path in
MEDIAJOBS_TEST_LEDGER of the worker that delivers), one line per delivery attempt that succeeds."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from mediajobs.hooks import JobFinished
from mediajobs.hooks.durable import DurableHook
from mediajobs.registry import Registry


class Ledger(DurableHook):
    name = "ledger"

    def deliveries(self, job: JobFinished) -> Sequence[dict[str, Any]]:
        return [{"job_id": str(job.job_id), "status": str(job.status), "pipeline": job.pipeline}]

    def deliver(self, payload: dict[str, Any], *, attempt: int, delivery_id: int) -> None:
        with open(os.environ["MEDIAJOBS_TEST_LEDGER"], "a", encoding="utf-8") as ledger:
            ledger.write(json.dumps({**payload, "delivery": delivery_id, "attempt": attempt}) + "\n")


def register(registry: Registry) -> None:
    registry.add_hook(Ledger())
