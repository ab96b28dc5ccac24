"""Prometheus metrics after real jobs: a real worker (prefork, two pool processes) serves the sum of
its pool processes' counters on its metrics port; the API's /metrics counts the submits and reads
the queue lengths from the broker (Redis) and the state from PostgreSQL; a pool process killed in
the middle of a stage no longer shows it as running, and what it counted stays counted."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import httpx
import redis

from helpers.processes import FileServer, free_port, wait_for, wait_gone
from helpers.scrape import Scrape, delta
from helpers.settings import make_settings
from helpers.stack import Stack, open_stack
from mediajobs.domain.routing import queue_name


def scrape_worker(port: int) -> Scrape:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    return Scrape(response.text)


def scrape_api(stack: Stack) -> Scrape:
    response = stack.api.get("/metrics")
    assert response.status_code == 200
    return Scrape(response.text)


def submit(stack: Stack, pipeline: str, source: str = "noop://x", **options: object) -> str:
    response = stack.api.post(
        "/api/v1/jobs", json={"pipeline": pipeline, "source": source, "options": options}
    )
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def test_counters_histograms_and_queue_lengths_after_real_jobs(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    port = free_port()
    settings = make_settings(
        tmp_path,
        MEDIAJOBS_DATABASE_URL=pg_url,
        CELERY_BROKER_URL=redis_url,
        MEDIAJOBS_NOOP_PIPELINES=True,
        MEDIAJOBS_WORKER_METRICS_PORT=port,
        MEDIAJOBS_METRICS_CACHE_SECONDS=0,
    )
    (tmp_path / "www").mkdir()
    with open_stack(settings, tmp_path) as stack, FileServer(tmp_path / "www") as files:
        worker = stack.worker(concurrency=2)
        api_before, worker_before = scrape_api(stack), scrape_worker(port)

        done = [submit(stack, "noop3") for _ in range(3)]
        broken = submit(stack, "transcribe", f"{files.url}/missing.wav")  # 404: ingest fails for good
        jobs = {job_id: stack.wait_job(job_id) for job_id in [*done, broken]}
        assert [jobs[j]["status"] for j in done] == ["succeeded"] * 3
        assert jobs[broken]["status"] == "failed"
        lane = stack.store.jobs.get_job(uuid.UUID(done[0])).lane

        def q(kind: str) -> str:
            return queue_name(kind, lane=lane, prefix=settings.queue_prefix)

        api, work = scrape_api(stack), scrape_worker(port)
        # the API wrote the jobs and published their first stages
        assert delta(api, api_before, "mediajobs_jobs_submitted_total", pipeline="noop3", lane=lane) == 3
        assert (
            delta(
                api,
                api_before,
                "mediajobs_tasks_submitted_total",
                queue=q("download"),
                task_name="noop3.first",
            )
            == 3
        )
        # the worker serves every queue: it ran each job's second and third stages right after the one
        # before, claimed with no broker message (sticky stages), and ended the jobs
        for kind, stage in (("media", "second"), ("transcribe", "third")):
            labels = {"queue": q(kind), "task_name": f"noop3.{stage}"}
            assert delta(work, worker_before, "mediajobs_stages_followed_total", **labels) == 3
            assert delta(work, worker_before, "mediajobs_tasks_submitted_total", **labels) == 0
        for kind in ("media", "transcribe"):
            assert (
                delta(
                    work, worker_before, "mediajobs_tasks_completed_total", queue=q(kind), status="succeeded"
                )
                == 3
            )
        assert (
            delta(
                work,
                worker_before,
                "mediajobs_tasks_completed_total",
                queue=q("download"),
                status="succeeded",
            )
            == 3
        )
        assert (
            delta(
                work, worker_before, "mediajobs_tasks_completed_total", queue=q("download"), status="failed"
            )
            == 1
        )
        for name in ("noop3.first", "noop3.second", "noop3.third"):
            assert delta(work, worker_before, "mediajobs_task_duration_seconds_count", task_name=name) == 3
            assert (
                delta(work, worker_before, "mediajobs_task_duration_seconds_bucket", task_name=name, le="0.1")
                <= 3
            )
        assert (
            delta(work, worker_before, "mediajobs_task_duration_seconds_count", task_name="transcribe.ingest")
            == 1
        )
        assert (
            delta(
                work,
                worker_before,
                "mediajobs_jobs_finished_total",
                pipeline="noop3",
                lane=lane,
                status="succeeded",
            )
            == 3
        )
        assert (
            delta(
                work,
                worker_before,
                "mediajobs_jobs_finished_total",
                pipeline="transcribe",
                lane=lane,
                status="failed",
            )
            == 1
        )
        assert delta(work, worker_before, "mediajobs_admission_wait_seconds_count", lane=lane) == 4
        assert work.value("mediajobs_worker_stages_running", queue=q("media")) == 0
        assert api.value("mediajobs_active_workers", queue=q("media")) == 1
        assert api.value("mediajobs_workers") == 1

        # a stage that runs: its pool process is killed; the gauge forgets it, the counts stay
        running = submit(stack, "noop", work_seconds=60)
        wait_for(lambda: stack.store.queues.running(), timeout=30, message="the stage running")
        assert scrape_worker(port).value("mediajobs_worker_stages_running", queue=q("media")) == 1
        [stage] = stack.store.queues.running()
        assert stage.runner is not None
        child = int(stage.runner.rsplit("/", 1)[1])
        counted = scrape_worker(port).total("mediajobs_tasks_completed_total")
        os.kill(child, signal.SIGKILL)
        assert wait_gone(child, 10)
        after_kill = scrape_worker(port)
        assert after_kill.value("mediajobs_worker_stages_running", queue=q("media")) == 0
        assert after_kill.total("mediajobs_tasks_completed_total") == counted
        stack.api.post(f"/api/v1/jobs/{running}/cancel")
        stack.wait_job(running)

        # no consumer: the worker stops; what is submitted waits in Redis, and the gauges say so
        worker.stop()
        broker = redis.Redis.from_url(redis_url)
        try:
            # the killed stage's re-dispatch may still sit there if the cancel came before the worker
            # took it (dropped when consumed: its job is cancelled); the submits come on top of it
            stale = broker.llen(q("media"))
            waiting = [submit(stack, "noop") for _ in range(2)]
            in_redis = broker.llen(q("media"))
        finally:
            broker.close()
        state = scrape_api(stack)
        assert stale <= 1
        assert in_redis == stale + 2
        assert state.value("mediajobs_queue_length", queue=q("media")) == stale + 2
        assert stack.api.get("/api/v1/queues").json()  # the admins' view agrees
        assert state.value("mediajobs_queue_waiting", queue=q("media")) == 2
        assert state.value("mediajobs_active_workers", queue=q("media")) == 0
        assert state.value("mediajobs_jobs", status="queued", lane=lane) == len(waiting)
        assert state.value("mediajobs_broker_up") == 1
