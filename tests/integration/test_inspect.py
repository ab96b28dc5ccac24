"""`mediajobs inspect` against a real API server and a real worker: the stage running now, with the
worker that runs it (the one whose heartbeat the workers list shows), its queue with that consumer,
in JSON and as tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from helpers.auth import new_key
from helpers.live_server import live_server
from helpers.processes import running_worker, wait_for
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.pipelines import shipped_pipelines
from mediajobs.store import JobStore, create_db_engine


def inspect(url: str, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAJOBS_")}
    env.update(MEDIAJOBS_API_KEY=key, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "mediajobs", "inspect", *args, "--api", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_inspect_lists_a_running_stage_with_its_worker(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    settings = make_settings(
        tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=redis_url, MEDIAJOBS_NOOP_PIPELINES=True
    )
    engine = create_db_engine(pg_url)
    key = new_key(JobStore(engine, pipelines=shipped_pipelines(noop=True)))
    engine.dispose()
    with (
        live_server(create_app(settings)) as url,
        running_worker(settings, tmp_path / "worker.log"),
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api,
    ):
        job_id = api.post(
            "/api/v1/jobs", json={"pipeline": "noop", "source": "noop://x", "options": {"work_seconds": 60}}
        ).json()["id"]
        wait_for(
            lambda: api.get(f"/api/v1/jobs/{job_id}").json()["stages"][0]["status"] == "running",
            timeout=30,
            message="the stage running",
        )

        done = inspect(url, key, "--json")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        [stage] = [s for s in report["running"] if s["job_id"] == job_id]
        [worker] = report["workers"]
        assert (stage["pipeline"], stage["stage"], stage["attempt"]) == ("noop", "noop", 1)
        assert stage["worker"] == worker["id"]
        assert stage["worker_live"] is True
        assert stage["runner"].startswith(f"{worker['id']}/")
        assert stage["running_seconds"] >= 0
        assert worker["running"] == 1
        assert worker["last_seen"]
        [queue] = [q for q in report["queues"] if q["name"] == stage["queue"]]
        assert [c["worker"] for c in queue["consumers"]] == [worker["id"]]
        assert queue["length"] == 0  # the worker holds the message

        tables = inspect(url, key)
        assert tables.returncode == 0, tables.stderr
        assert job_id[:8] in tables.stdout
        assert "noop/noop" in tables.stdout
        assert worker["id"] in tables.stdout

        api.post(f"/api/v1/jobs/{job_id}/cancel")
        wait_for(
            lambda: api.get(f"/api/v1/jobs/{job_id}").json()["status"] == "cancelled",
            timeout=30,
            message="the job cancelled",
        )
        assert json.loads(inspect(url, key, "--json").stdout)["running"] == []
