"""`mediajobs flower` (the optional extra `mediajobs[flower]`) against our Celery app: with task
events on, Flower's API shows each stage task of a real job run by a real worker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from helpers.processes import free_port, http_ready, wait_for, wait_serving
from helpers.settings import make_settings
from helpers.stack import open_stack
from mediajobs.launch import settings_env

AUTH = ("ops", "s3cret")


def test_flower_shows_the_stage_tasks_of_a_job(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    settings = make_settings(
        tmp_path,
        MEDIAJOBS_DATABASE_URL=pg_url,
        CELERY_BROKER_URL=redis_url,
        MEDIAJOBS_NOOP_PIPELINES=True,
        MEDIAJOBS_CELERY_TASK_EVENTS=True,
    )
    port, log = free_port(), tmp_path / "flower.log"
    base = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        flower = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mediajobs",
                "flower",
                "--port",
                str(port),
                f"--basic-auth={':'.join(AUTH)}",
            ],
            env=settings_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_serving(flower, lambda: http_ready(f"{base}/healthcheck"), timeout=60, log=log)
        wait_for(
            lambda: "Connected to redis" in log.read_text(), timeout=30, message="Flower's event receiver"
        )
        assert httpx.get(f"{base}/api/tasks", timeout=10).status_code == 401  # the API wants the login
        with open_stack(settings, tmp_path) as stack:
            stack.worker()
            response = stack.api.post("/api/v1/jobs", json={"pipeline": "noop3", "source": "noop://x"})
            job_id = response.json()["id"]
            assert stack.wait_job(job_id)["status"] == "succeeded"

            def stage_tasks() -> list[dict[str, object]]:
                tasks = httpx.get(f"{base}/api/tasks", auth=AUTH, timeout=10).json()
                ours = [
                    t for t in tasks.values() if job_id in str(t.get("args")) and t.get("state") == "SUCCESS"
                ]
                return ours

            # one broker task: the worker serves every queue, so it ran the second and third stages
            # right after the first in the same task (sticky stages: no message, so nothing for Flower)
            found = wait_for(stage_tasks, timeout=30, message="the job's stage task in Flower")
            assert {t["name"] for t in found} == {"mediajobs.run_stage"}  # type: ignore[union-attr]
            assert [str(t["args"]) for t in found] == [str([job_id, "first"])]  # type: ignore[union-attr]
    finally:
        flower.terminate()
        try:
            flower.wait(timeout=20)
        except subprocess.TimeoutExpired:
            flower.kill()
            flower.wait()
