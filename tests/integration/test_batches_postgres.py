"""Batches on PostgreSQL: the writes (one statement a table, store/bulk.py), the batch row locked by
each item's end (two items ending at once cannot both think the other still runs), and the end."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

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


def test_a_thousand_items_are_written_in_one_statement_per_table(tmp_path: Path, pg_url: str) -> None:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, MEDIAJOBS_NOOP_PIPELINES=True)
    services = build_services(settings, InMemoryPublisher(), engines=Engines())
    inserts: Counter[str] = Counter()

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO"):
            inserts[statement.split()[2]] += 1

    try:
        with TestClient(create_app(settings, services=services, maintenance=False)) as api:
            authorize(api, services.store)
            items = [
                {"source": f"noop://{i}", "name": f"item {i}", "options": {"work_seconds": i / 1000}}
                for i in range(1000)
            ]
            event.listen(services.store.engine, "before_cursor_execute", seen)
            try:
                response = api.post("/api/v1/batches", json={"pipeline": "noop", "items": items})
            finally:
                event.remove(services.store.engine, "before_cursor_execute", seen)
            assert response.status_code == 202, response.text
            # one `INSERT ... SELECT FROM unnest(...)` a table, whatever the number of items
            assert {t: inserts[t] for t in ("batches", "jobs", "stage_runs", "job_events")} == {
                "batches": 1, "jobs": 1, "stage_runs": 1, "job_events": 1,
            }  # fmt: skip
            batch_id = uuid.UUID(response.json()["id"])
            rows = services.store.batches.item_page(batch_id, after=-1, limit=1000)
            assert [(r.batch_index, r.item_name, r.source, r.options) for r in rows] == [
                (i, f"item {i}", f"noop://{i}", {"work_seconds": i / 1000}) for i in range(1000)
            ]  # the JSON options stored as objects, each item's own
            job = services.store.jobs.get_job(rows[999].id)
            assert (job.status.value, job.lane, job.options) == ("queued", "batch", {"work_seconds": 0.999})
            events = services.store.events.job_events(rows[999].id)
            assert [(e.seq, e.message) for e in events] == [(1, "job accepted (batch item)")]
    finally:
        services.close()


def test_only_the_last_items_end_counts_the_batchs_items(tmp_path: Path, pg_url: str) -> None:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, MEDIAJOBS_NOOP_PIPELINES=True)
    services = build_services(settings, InMemoryPublisher(), engines=Engines())
    counts: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "GROUP BY jobs.status" in statement:
            counts.append(statement)

    try:
        with TestClient(create_app(settings, services=services, maintenance=False)) as api:
            authorize(api, services.store)
            items = [{"source": f"noop://{i}"} for i in range(4)]
            created = api.post("/api/v1/batches", json={"pipeline": "noop", "items": items}).json()
            store = services.store
            ids = store.batches.item_ids(uuid.UUID(created["id"]))
            event.listen(store.engine, "before_cursor_execute", seen)
            try:
                for n, job_id in enumerate(reversed(ids)):  # the highest index first
                    claim = store.stages.claim_stage(job_id, "noop", worker="w", lease_seconds=30)
                    assert isinstance(claim, Claim)
                    store.stages.complete_stage(claim, {})
                    ended = api.get(f"/api/v1/batches/{created['id']}").json()
                    assert ended["status"] == ("succeeded" if n == len(ids) - 1 else "running")
            finally:
                event.remove(store.engine, "before_cursor_execute", seen)
            # each GET counts once (4); of the four ends only the last one counts
            assert len(counts) == len(ids) + 1
    finally:
        services.close()
