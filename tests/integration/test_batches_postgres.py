"""Batches on PostgreSQL: the multi-row writes, the batch row locked by each item's end (two items
ending at once cannot both think the other still runs), and the end."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from helpers.auth import authorize
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.engines import Engines
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.store import Claim
from mediajobs.wiring import build_services


def test_items_ending_at_once_end_the_batch_exactly_once(tmp_path: Path, pg_url: str) -> None:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, MEDIAJOBS_NOOP_PIPELINES=True)
    services = build_services(settings, InMemoryPublisher(), engines=Engines())
    try:
        with TestClient(create_app(settings, services=services, maintenance=False)) as api:
            authorize(api, services.store)
            items = [{"source": f"noop://{i}", "name": f"item {i}"} for i in range(8)]
            created = api.post("/api/v1/batches", json={"pipeline": "noop", "items": items}).json()
            store = services.store
            claims = []
            for job_id in store.batches.item_ids(uuid.UUID(created["id"])):
                claim = store.stages.claim_stage(job_id, "noop", worker="w", lease_seconds=30)
                assert isinstance(claim, Claim)
                claims.append(claim)
            start = threading.Barrier(len(claims))

            def finish(claim: Claim) -> None:
                start.wait()
                store.stages.complete_stage(claim, {})

            threads = [threading.Thread(target=finish, args=(c,)) for c in claims]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)

            batch = api.get(f"/api/v1/batches/{created['id']}").json()
            assert batch["status"] == "succeeded"
            assert batch["counts"] == {"succeeded": 8}
            assert batch["finished_at"] is not None
    finally:
        services.close()
