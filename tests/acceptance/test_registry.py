"""The registry as users meet it: a plug-in pipeline of a deployment's own runs on a real worker, and
a job whose queue nobody serves says so, then runs once a worker for it starts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.processes import wait_for
from helpers.settings import make_settings
from helpers.stack import Stack, open_stack
from mediajobs.domain.routing import queue_name

JOBS = "/api/v1/jobs"
PLUGIN = "helpers.wordcount"


@pytest.fixture
def plugin_stack(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[Stack]:
    """The API with the tests' plug-in registered (MEDIAJOBS_PLUGINS), on PostgreSQL and Redis."""
    settings = make_settings(
        tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=redis_url, MEDIAJOBS_PLUGINS=PLUGIN
    )
    with open_stack(settings, tmp_path) as stack:
        yield stack


def _queues(stack: Stack) -> dict[str, dict[str, Any]]:
    response = stack.api.get("/api/v1/queues")
    assert response.status_code == 200, response.text
    return {q["name"]: q for q in response.json()["queues"]}


def test_a_plugin_pipeline_runs_end_to_end_on_a_real_worker(plugin_stack: Stack) -> None:
    stack = plugin_stack
    worker = stack.worker(plugins=PLUGIN)  # `mediajobs worker` with no -Q: every kind, the plug-in's too
    response = stack.api.post(
        JOBS, json={"pipeline": "wordcount", "text": "the cat and the hat and the bat", "options": {"top": 2}}
    )
    assert response.status_code == 202, response.text

    job = stack.wait_job(response.json()["id"])

    assert job["status"] == "succeeded", job
    assert [(s["name"], s["kind"]) for s in job["stages"]] == [("count", "textstats")]
    counts = json.loads(stack.api.get(f"{JOBS}/{job['id']}/result").content)
    assert counts == {"words": 8, "top": [{"word": "the", "count": 3}, {"word": "and", "count": 2}]}
    textstats = _queues(stack)[f"{stack.settings.queue_prefix}textstats"]
    assert len(textstats["consumers"]) == 1
    assert worker.proc is not None
    assert textstats["consumers"][0]["pid"] == worker.proc.pid  # its main process beats
    refused = stack.api.post(JOBS, json={"pipeline": "wordcount", "text": "x", "options": {"top": 0}})
    assert refused.status_code == 422  # the plug-in's options model is checked at submit
    assert refused.json()["error"]["code"] == "invalid_options"


def test_a_job_whose_queue_nobody_serves_says_so_and_runs_once_a_worker_starts(stack: Stack) -> None:
    stack.worker(exclude=["translate"])  # every queue but translate's
    response = stack.api.post(
        JOBS,
        json={
            "pipeline": "translate",
            "text": "The children are playing in the park.",
            "options": {"source_language": "en", "target_language": "es"},
        },
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    lane = stack.api.get(f"{JOBS}/{job_id}").json()["lane"]  # the local admin's: express
    queue = queue_name("translate", lane=lane, prefix=stack.settings.queue_prefix)

    def stuck() -> dict[str, Any] | None:
        waiting = stack.api.get(f"{JOBS}/{job_id}").json()["waiting"]
        return waiting if waiting and waiting["reason"] == "no_worker" else None

    waiting = wait_for(stuck, timeout=60, interval=0.2, message="the job says no worker serves its queue")
    assert waiting["queue"] == queue
    listed = _queues(stack)[queue]
    assert listed["consumers"] == []
    assert listed["waiting"] == 1
    assert listed["length"] == 1  # its message waits in Redis

    stack.worker(queues=["translate"])
    job = stack.wait_job(job_id)

    assert job["status"] == "succeeded", job
    assert "parque" in stack.api.get(f"{JOBS}/{job_id}/result").json()["text"].lower()
    assert _queues(stack)[queue]["consumers"] != []


def test_a_plugins_durable_hook_delivers_each_ended_job_from_the_hooks_queue(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    plugins = f"{PLUGIN},helpers.ledger"
    ledger = tmp_path / "ledger.jsonl"
    settings = make_settings(
        tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=redis_url, MEDIAJOBS_PLUGINS=plugins
    )
    with open_stack(settings, tmp_path) as stack:
        stack.worker(plugins=plugins, extra_env={"MEDIAJOBS_TEST_LEDGER": str(ledger)})
        response = stack.api.post(JOBS, json={"pipeline": "wordcount", "text": "one two two"})
        job_id = response.json()["id"]
        assert stack.wait_job(job_id)["status"] == "succeeded"

        def delivered() -> list[dict[str, Any]]:
            lines = ledger.read_text().splitlines() if ledger.exists() else []
            return [json.loads(line) for line in lines]

        [entry] = wait_for(delivered, timeout=30, interval=0.2, message="the ledger hook delivered")
        assert (entry["job_id"], entry["status"], entry["attempt"]) == (job_id, "succeeded", 1)

        def recorded() -> list[Any]:
            rows = stack.store.deliveries.of_job(uuid.UUID(job_id))
            return rows if rows and rows[0].status == "delivered" else []

        [row] = wait_for(recorded, timeout=10, interval=0.1, message="the delivery recorded as delivered")
        assert row.hook == "ledger"
