"""A plug-in with a durable hook: each ended job is written to a ledger file (the path in
MEDIAJOBS_TEST_LEDGER of the worker that delivers), one line per delivery attempt that succeeds."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from mediajobs.engines.http import OutboundHttp
from mediajobs.hooks import JobFinished
from mediajobs.hooks.durable import DurableHook, Outgoing, Owed
from mediajobs.registry import Registry


class Ledger(DurableHook):
    name = "ledger"

    def deliveries(self, job: JobFinished) -> Sequence[Owed]:
        payload = {"job_id": str(job.job_id), "status": str(job.status), "pipeline": job.pipeline}
        return [Owed(destination="ledger", payload=payload)]

    def deliver(self, message: Outgoing, http: OutboundHttp) -> None:
        entry = {**message.payload, "delivery": message.delivery_id, "attempt": message.attempt}
        with open(os.environ["MEDIAJOBS_TEST_LEDGER"], "a", encoding="utf-8") as ledger:
            ledger.write(json.dumps(entry) + "\n")


def register(registry: Registry) -> None:
    registry.add_hook(Ledger())
