"""Prometheus metrics (hooks/metrics.py, monitoring/): the API's /metrics counts what its process did
and reads the state from the database and the broker at scrape time; the worker side is tested with
real workers in tests/integration/test_metrics.py. Through the API in-process, SQLite and the
in-memory broker; counters are per process, so each test reads how much they moved."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from helpers.auth import authorize
from helpers.clock import FakeClock
from helpers.scrape import Scrape, delta
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.domain.routing import queue_name
from mediajobs.engines import Engines
from mediajobs.hooks import StageFinished, StageInfo
from mediajobs.hooks.metrics import DURATION_BUCKETS, MetricsHooks, event_metrics, task_name
from mediajobs.monitoring.exposition import mark_dead_processes
from mediajobs.monitoring.state import StateCollector
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.wiring import Services, build_services

JOBS = "/api/v1/jobs"


@dataclass
class World:
    services: Services
    publisher: InMemoryPublisher
    clock: FakeClock
    api: TestClient

    def scrape(self) -> Scrape:
        response = self.api.get("/metrics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return Scrape(response.text)

    def queue(self, kind: str, lane: str) -> str:
        return queue_name(kind, lane=lane, prefix=self.services.settings.queue_prefix)


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str, clock: FakeClock) -> Iterator[World]:
    settings = make_settings(
        tmp_path,
        MEDIAJOBS_DATABASE_URL=sqlite_url,
        MEDIAJOBS_NOOP_PIPELINES=True,
        MEDIAJOBS_METRICS_CACHE_SECONDS=0,
    )
    publisher = InMemoryPublisher()
    services = build_services(settings, publisher, engines=Engines(), clock=clock)
    with TestClient(create_app(settings, services=services, maintenance=False)) as api:
        authorize(api, services.store)
        yield World(services=services, publisher=publisher, clock=clock, api=api)
    services.close()


def submit(world: World, pipeline: str, **options: object) -> dict[str, object]:
    response = world.api.post(JOBS, json={"pipeline": pipeline, "source": "noop://x", "options": options})
    assert response.status_code == 202, response.text
    job: dict[str, object] = response.json()
    job["lane"] = world.services.store.jobs.get_job(uuid.UUID(str(job["id"]))).lane
    return job


def test_jobs_and_stages_move_the_counters_and_histograms_by_what_happened(world: World) -> None:
    before = world.scrape()
    jobs = [submit(world, "noop3") for _ in range(3)]
    lane = str(jobs[0]["lane"])
    world.publisher.drain(world.services.runner.run)  # the runner runs in this process here
    after = world.scrape()

    assert delta(after, before, "mediajobs_jobs_submitted_total", pipeline="noop3", lane=lane) == 3
    for stage, kind in (("first", "download"), ("second", "media"), ("third", "transcribe")):
        queue = world.queue(kind, lane)
        name = f"noop3.{stage}"
        assert delta(after, before, "mediajobs_tasks_submitted_total", queue=queue, task_name=name) == 3
        assert delta(after, before, "mediajobs_tasks_completed_total", queue=queue, status="succeeded") == 3
        assert delta(after, before, "mediajobs_task_duration_seconds_count", task_name=name) == 3
        assert delta(after, before, "mediajobs_task_duration_seconds_bucket", task_name=name, le="+Inf") == 3
        assert after.value("mediajobs_worker_stages_running", queue=queue) == 0
    assert (
        delta(after, before, "mediajobs_jobs_finished_total", pipeline="noop3", lane=lane, status="succeeded")
        == 3
    )
    assert delta(after, before, "mediajobs_job_duration_seconds_count", pipeline="noop3") == 3
    assert delta(after, before, "mediajobs_admission_wait_seconds_count", lane=lane) == 3  # one per job
    # the histogram's buckets run from 0.1 s to 4 h
    buckets = {dict(labels)["le"] for labels in after.series("mediajobs_task_duration_seconds_bucket")}
    assert {"0.1", "14400.0", "+Inf"} <= buckets
    assert DURATION_BUCKETS[0] == 0.1
    assert DURATION_BUCKETS[-1] == 4 * 3600


def test_no_label_carries_a_job_or_user_id(world: World) -> None:
    job = submit(world, "noop3")
    world.publisher.drain(world.services.runner.run)
    scrape = world.scrape()
    assert str(job["id"]) not in scrape.text
    assert "local" not in {value for labels in scrape.samples for _, value in labels[1]}


def test_a_fan_out_child_counts_under_its_family() -> None:
    assert task_name("transcribe", "chunk[12]") == "transcribe.chunk"
    assert task_name("noop3", "first") == "noop3.first"


def test_retries_lost_leases_and_media_seconds_are_counted() -> None:
    hooks, metrics = MetricsHooks(), event_metrics()
    info = StageInfo(
        job_id=uuid.uuid4(), pipeline="p", stage="s", kind="media", attempt=1, worker="w", queue="q.retry"
    )
    retries = metrics.stage_retries.labels("p.s")._value.get()
    hooks.stage_started(info)
    finished = StageFinished(stage=info, outcome="retry", seconds=2.0, retry_in=1.0)
    hooks.stage_finished(finished)
    hooks.stage_retried(finished)
    assert metrics.stage_retries.labels("p.s")._value.get() == retries + 1
    assert metrics.tasks_completed.labels("q.retry", "retry")._value.get() >= 1
    assert metrics.stages_running.labels("q.retry")._value.get() == 0


def test_the_state_gauges_match_the_broker_and_the_database(world: World) -> None:
    first = submit(world, "noop")
    second = submit(world, "noop")
    lane = str(first["lane"])
    queue = world.queue("media", lane)
    world.clock.advance(42)
    scrape = world.scrape()

    assert world.publisher.queue_sizes([queue])[queue] == 2
    assert scrape.value("mediajobs_queue_length", queue=queue) == 2
    assert scrape.value("mediajobs_queue_waiting", queue=queue) == 2
    assert scrape.value("mediajobs_queue_oldest_waiting_seconds", queue=queue) == pytest.approx(42)
    assert scrape.value("mediajobs_lane_oldest_waiting_seconds", lane=lane) == pytest.approx(42)
    assert scrape.value("mediajobs_jobs", status="queued", lane=lane) == 2
    assert scrape.value("mediajobs_active_workers", queue=queue) == 0  # no worker beats here
    assert scrape.value("mediajobs_broker_up") == 1
    assert scrape.value("mediajobs_database_up") == 1
    assert scrape.value("mediajobs_outbox_backlog") == 0  # both were published after their commits

    world.publisher.drain(world.services.runner.run)
    scrape = world.scrape()
    assert scrape.value("mediajobs_queue_length", queue=queue) == 0
    assert scrape.value("mediajobs_jobs", status="queued", lane=lane) == 0
    assert scrape.value("mediajobs_lane_oldest_waiting_seconds", lane=lane) == 0
    assert second["id"] != first["id"]


def test_a_broker_that_does_not_answer_is_down_and_its_gauges_left_out(world: World) -> None:
    world.publisher.down = True
    scrape = world.scrape()
    assert scrape.value("mediajobs_broker_up") == 0
    assert "mediajobs_queue_length" not in scrape.families
    assert scrape.value("mediajobs_database_up") == 1


def test_the_state_is_read_at_most_once_per_ttl(world: World) -> None:
    now = [100.0]
    reads: list[int] = []
    services = world.services

    class CountingBroker:
        def queue_sizes(self, queues: object) -> dict[str, int]:
            reads.append(1)
            return {}

    state = StateCollector(
        services.store,
        CountingBroker(),
        services.registry.queue_table(),
        worker_silence=timedelta(seconds=30),
        ttl=5.0,
        clock=lambda: now[0],
    )
    list(state.collect())
    now[0] += 4.9
    list(state.collect())
    assert len(reads) == 1
    now[0] += 0.2
    list(state.collect())
    assert len(reads) == 2


def test_a_metrics_token_is_required_when_set(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_METRICS_TOKEN="s3cret")
    services = build_services(settings, InMemoryPublisher(), engines=Engines())
    try:
        with TestClient(create_app(settings, services=services, maintenance=False)) as api:
            assert api.get("/metrics").status_code == 401
            assert api.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
            ok = api.get("/metrics", headers={"Authorization": "Bearer s3cret"})
            assert ok.status_code == 200
            assert "mediajobs_queue_length" in ok.text
    finally:
        services.close()


def test_a_dead_process_loses_its_live_gauges_and_keeps_its_counts(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    dead = int(done.stdout)
    for name in (f"gauge_livesum_{dead}.db", f"counter_{dead}.db", f"gauge_livesum_{_me()}.db"):
        (tmp_path / name).write_bytes(b"")

    assert mark_dead_processes(tmp_path) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"counter_{dead}.db", f"gauge_livesum_{_me()}.db"]


def _me() -> int:
    import os

    return os.getpid()
