"""A real worker's log, as a container or a file sees it (not a terminal): one JSON object per line,
two lines per stage at info with the job, stage, attempt, worker, user, queue and duration, and none
of the noise: no "No hostname was supplied" (the embedded filesystem broker), Celery's superuser
warning at most once per start, not from the other workers `mediajobs up` starts."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from helpers.processes import wait_for
from helpers.settings import make_settings
from helpers.stack import open_stack
from mediajobs.launch import ROOT_WARNING, spawn

SUPERUSER = "running the worker with superuser privileges"


def json_lines(text: str) -> list[dict[str, object]]:
    found = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("worker: "):  # Celery prints its shutdown notice as is
            continue
        found.append(json.loads(line))  # anything else is a JSON object
    return found


def test_a_worker_logs_json_two_lines_per_stage_and_no_noise(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_NOOP_PIPELINES=True)
    assert settings.embedded  # the filesystem broker: the one that warned "No hostname was supplied"
    with open_stack(settings, tmp_path) as stack:
        worker = stack.worker()
        response = stack.api.post("/api/v1/jobs", json={"pipeline": "noop3", "source": "noop://x"})
        job_id = response.json()["id"]
        assert stack.wait_job(job_id)["status"] == "succeeded"
        # the job's end and the last stage's end are two hooks of one completion, in either order
        wait_for(
            lambda: f"job {job_id} succeeded" in worker.log() and f"{job_id}/third succeeded" in worker.log(),
            timeout=10,
            message="the job's and its last stage's lines",
        )
        worker.stop()
        text = worker.log()

    lines = json_lines(text)
    about_job = [line for line in lines if line.get("job") == job_id and line["logger"] == "mediajobs.runner"]
    assert len(about_job) == 6, about_job  # started and ended, for each of the three stages
    for line in about_job:
        assert line["level"] == "INFO"
        assert line["role"] == "worker"
        assert line["stage"] in ("first", "second", "third")
        assert line["attempt"] == 1
        assert str(line["worker"]).count("/") == 1  # <worker id>/<pool process>
        assert line["user"] == "local"
        assert line["queue"]
    assert [line["outcome"] for line in about_job if "outcome" in line] == ["succeeded"] * 3
    assert all(isinstance(line["duration"], float) for line in about_job if "outcome" in line)
    info_lines = [line for line in lines if line["level"] == "INFO" and line.get("job") == job_id]
    assert len(info_lines) == 7  # ... and the job's end
    assert "No hostname was supplied" not in text
    assert text.count(SUPERUSER) == (1 if os.geteuid() == 0 else 0)
    assert "Context impl" not in text
    assert "succeeded in" not in text  # Celery's per-task line


def test_the_workers_up_starts_after_the_first_do_not_repeat_the_superuser_warning(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url)
    log = tmp_path / "second-worker.log"
    proc = spawn(["worker", "-c", "1"], settings, log_file=log, warnings=ROOT_WARNING)
    try:
        wait_for(lambda: " ready." in log.read_text(), timeout=60, message="the worker ready")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert SUPERUSER not in text
    json_lines(text)
