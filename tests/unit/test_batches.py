"""Batches through the API in-process (SQLite, the in-memory broker, the real runner): checked before
anything is written, written at once, ended with their last item and saying how, cancelled and
retried as a whole, their files zipped, their endings streamed."""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict
from sqlalchemy import event, func, select

from helpers.auth import authorize
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.domain import BatchStatus, Pipeline, StageSpec
from mediajobs.domain.batches import batch_status
from mediajobs.engines import Engines
from mediajobs.errors import PermanentError
from mediajobs.pipelines import kinds
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.stages import ArtifactFile, StageContext, StageResult
from mediajobs.store.tables import BatchRow, JobRow
from mediajobs.wiring import Services, build_services

BATCHES = "/api/v1/batches"


class EchoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fail: bool = False


def echo(ctx: StageContext) -> StageResult:
    """Writes its source into `echo.txt`; fails for good when asked."""
    if ctx.options.get("fail"):
        raise PermanentError("asked to fail", code="scripted")
    path = ctx.work_dir / "echo.txt"
    path.write_text(ctx.source)
    return StageResult(
        output={}, artifacts=[ArtifactFile(name="echo.txt", path=path, content_type="text/plain")]
    )


ECHO = Pipeline(
    name="echo",
    stages=(StageSpec(name="echo", kind=kinds.MEDIA, code=echo),),
    options_model=EchoOptions,
    source_schemes=frozenset({"https"}),
    result_artifact="echo.txt",
)


@dataclass
class World:
    services: Services
    publisher: InMemoryPublisher
    api: TestClient

    def drain(self) -> None:
        self.publisher.drain(self.services.runner.run)

    def batch(self, **body: Any) -> Any:
        response = self.api.post(BATCHES, json={"pipeline": "echo", **body})
        assert response.status_code == 202, response.text
        return response.json()

    def get(self, batch_id: str, **params: Any) -> Any:
        return self.api.get(f"{BATCHES}/{batch_id}", params=params).json()


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str) -> Iterator[World]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_NOOP_PIPELINES=True)
    services = build_services(settings, (publisher := InMemoryPublisher()), engines=Engines())
    services.registry.add_pipeline(ECHO)
    with TestClient(create_app(settings, services=services, maintenance=False)) as api:
        authorize(api, services.store)
        yield World(services=services, publisher=publisher, api=api)
    services.close()


def items(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"source": f"https://example.com/{i}.mp3", "name": f"episode {i}", **extra} for i in range(count)]


@pytest.mark.parametrize(
    ("counts", "cancelled", "status"),
    [
        ({"succeeded": 3, "running": 1}, False, BatchStatus.RUNNING),
        ({"succeeded": 3}, False, BatchStatus.SUCCEEDED),
        ({"succeeded": 2, "failed": 1}, False, BatchStatus.COMPLETED_WITH_FAILURES),
        ({"succeeded": 2, "cancelled": 1}, False, BatchStatus.COMPLETED_WITH_FAILURES),
        ({"failed": 2, "cancelled": 1}, False, BatchStatus.FAILED),
        ({"succeeded": 2, "cancelled": 1}, True, BatchStatus.CANCELLED),
        ({"queued": 1, "cancelled": 1}, True, BatchStatus.RUNNING),
    ],
)
def test_a_batch_is_running_until_its_last_item_ends_then_says_how(
    counts: dict[str, int], cancelled: bool, status: BatchStatus
) -> None:
    assert batch_status(counts, cancel_requested=cancelled) is status


def test_a_batch_is_written_at_once_runs_in_the_batch_lane_and_ends_with_its_last_item(world: World) -> None:
    created = world.batch(items=items(3), name="season one")
    assert created["status"] == "running"
    assert created["items"] == 3

    world.drain()

    done = world.get(created["id"])
    assert done["status"] == "succeeded"
    assert done["counts"] == {"succeeded": 3}
    assert done["progress"] == 100.0
    assert [(i["index"], i["name"], i["status"]) for i in done["item_page"]] == [
        (0, "episode 0", "succeeded"), (1, "episode 1", "succeeded"), (2, "episode 2", "succeeded"),
    ]  # fmt: skip
    job = world.api.get(f"/api/v1/jobs/{done['item_page'][0]['id']}").json()
    assert job["lane"] == "batch"  # bulk work, whatever the user's tier (the local admin's: express)
    listed = world.api.get(BATCHES).json()["batches"]
    assert [b["id"] for b in listed] == [created["id"]]


def test_one_bad_item_refuses_the_whole_batch_naming_its_index_and_writes_nothing(world: World) -> None:
    body = items(10)
    body[7]["options"] = {"nonsense": 1}
    response = world.api.post(BATCHES, json={"pipeline": "echo", "items": body})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_options"
    assert response.json()["error"]["message"].startswith("items[7]: ")
    with world.services.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(JobRow)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(BatchRow)).scalar_one() == 0


def test_a_failed_item_never_keeps_the_batch_waiting_and_a_retry_runs_only_the_failures(world: World) -> None:
    body = items(4)
    body[1]["options"] = {"fail": True}
    created = world.batch(items=body)
    world.drain()

    ended = world.get(created["id"])
    assert ended["status"] == "completed_with_failures"
    assert ended["counts"] == {"succeeded": 3, "failed": 1}
    failed = ended["item_page"][1]
    assert (failed["status"], failed["error"]["code"]) == ("failed", "scripted")

    again = world.api.post(f"{BATCHES}/{created['id']}/retry")
    assert again.status_code == 202
    assert again.json()["status"] == "running"
    world.drain()

    after = world.get(created["id"])
    assert after["status"] == "completed_with_failures"  # it failed again, for good
    attempts = {
        i["index"]: len(world.api.get(f"/api/v1/jobs/{i['id']}").json()["attempts"])
        for i in after["item_page"]
    }
    assert attempts == {0: 1, 1: 2, 2: 1, 3: 1}  # only the failed item ran again


def test_cancelling_a_batch_ends_it_cancelled_once_its_items_have_ended(world: World) -> None:
    created = world.batch(items=items(5))

    cancelled = world.api.post(f"{BATCHES}/{created['id']}/cancel").json()

    assert cancelled["status"] == "cancelled"  # nothing was running: every item ended at once
    assert cancelled["counts"] == {"cancelled": 5}
    assert world.api.post(f"{BATCHES}/{created['id']}/cancel").status_code == 409


def test_the_zip_holds_one_file_per_item_and_artifact_named_after_the_items(world: World) -> None:
    created = world.batch(items=[*items(2), {"source": "https://example.com/x.mp3", "name": "episode 0"}])
    world.drain()

    response = world.api.get(f"{BATCHES}/{created['id']}/artifacts", params={"artifacts": "txt"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == ["episode 0-2/echo.txt", "episode 0/echo.txt", "episode 1/echo.txt"]
    assert archive.read("episode 1/echo.txt") == b"https://example.com/1.mp3"
    empty = world.api.get(f"{BATCHES}/{created['id']}/artifacts", params={"artifacts": "srt"})
    assert zipfile.ZipFile(io.BytesIO(empty.content)).namelist() == []


def test_a_finished_batchs_stream_replays_its_item_endings_then_its_own_end(world: World) -> None:
    created = world.batch(items=items(2))
    world.drain()

    stream = world.api.get(f"{BATCHES}/{created['id']}/events").text
    kinds_seen = [line.split(": ", 1)[1] for line in stream.splitlines() if line.startswith("event: ")]
    assert kinds_seen == ["state", "state", "batch"]
    last = [line for line in stream.splitlines() if line.startswith("data: ")][-1]
    assert json.loads(last.removeprefix("data: "))["status"] == "succeeded"
    ids = [line.split(": ", 1)[1] for line in stream.splitlines() if line.startswith("id: ")]
    again = world.api.get(f"{BATCHES}/{created['id']}/events", headers={"Last-Event-ID": ids[-1]})
    assert again.status_code == 204  # nothing left to say


def test_a_thousand_items_are_written_in_a_few_multi_row_statements(world: World) -> None:
    body = {"pipeline": "noop", "items": [{"source": f"noop://{i}"} for i in range(1000)]}
    inserts: Counter[str] = Counter()

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO"):
            inserts[statement.split()[2]] += 1

    event.listen(world.services.store.engine, "before_cursor_execute", seen)
    try:
        response = world.api.post(BATCHES, json=body)
    finally:
        event.remove(world.services.store.engine, "before_cursor_execute", seen)
    assert response.status_code == 202, response.text
    # 500 rows a statement, not 1,000 of each; the admission after the commit queues what the
    # user's concurrency allows (32 for the local admin's tier), with their messages
    assert {table: inserts[table] for table in ("batches", "jobs", "stage_runs", "job_events")} == {
        "batches": 1, "jobs": 2, "stage_runs": 2, "job_events": 2,
    }  # fmt: skip
    assert inserts["outbox"] == 32
    assert world.get(response.json()["id"])["counts"] == {"queued": 1000}


def test_a_batch_over_the_monthly_job_quota_is_refused_whole(world: World, tmp_path: Path) -> None:
    from helpers.auth import user_with_key
    from mediajobs.domain import Tier

    _, key = user_with_key(world.services.store, "freda", Tier.FREE)  # 200 jobs a month
    response = world.api.post(
        BATCHES,
        json={"pipeline": "noop", "items": [{"source": f"noop://{i}"} for i in range(201)]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "quota_exceeded"
