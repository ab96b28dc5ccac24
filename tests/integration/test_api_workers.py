"""`mediajobs api --workers N`: N processes share the port and serve the same jobs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from helpers.processes import descendants_running, free_port, http_ready, wait_for, wait_gone, wait_serving
from helpers.scrape import Scrape
from helpers.settings import make_settings
from mediajobs.launch import settings_env
from mediajobs.pipelines import shipped_pipelines
from mediajobs.store import JobStore, create_db_engine


def test_two_api_processes_share_the_port_and_the_jobs(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    settings = make_settings(
        tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=redis_url, MEDIAJOBS_NOOP_PIPELINES=True
    )
    engine = create_db_engine(pg_url)
    _, key = JobStore(engine, pipelines=shipped_pipelines(noop=True)).users.create_key("local", name="tests")
    engine.dispose()
    port, log = free_port(), tmp_path / "api.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mediajobs", "api", "--port", str(port), "--workers", "2"],
            env=settings_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_serving(proc, lambda: http_ready(f"{base}/readyz"), timeout=60, log=log)
        wait_for(
            lambda: len(descendants_running(proc.pid, "spawn_main")) == 2,
            timeout=30,
            message="two API processes",
        )
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            ids = []
            for _ in range(20):  # new connections: the kernel spreads them over both processes
                response = httpx.post(
                    f"{base}/api/v1/jobs",
                    json={"pipeline": "noop", "source": "noop://a"},
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=30,
                )
                assert response.status_code == 202, response.text
                ids.append(response.json()["id"])
            for job_id in ids:  # either process answers for any job: the truth is in the database
                assert client.get(f"/api/v1/jobs/{job_id}").status_code == 200
            # each process counted its own submits in the shared metrics folder: either one's
            # /metrics adds them all up (prometheus-client's multiprocess mode)
            for _ in range(4):
                metrics = httpx.get(f"{base}/metrics", timeout=30)
                assert Scrape(metrics.text).total("mediajobs_jobs_submitted_total", pipeline="noop") == 20
    finally:
        workers = descendants_running(proc.pid, "spawn_main")
        proc.terminate()
        proc.wait(timeout=30)
        assert all(wait_gone(pid, 10) for pid in workers), log.read_text(errors="replace")[-2000:]
