"""Graceful drain (issue 22 item 4), with Redis, PostgreSQL, real Celery workers, ffmpeg and Whisper.

SIGTERM goes to the worker's main process only, as `docker stop`, Kubernetes and a systemd unit with
`KillMode=mixed` send it. A stage that ends within the grace period ends on the stopping worker; one
that does not is handed back at once and finished by another worker; no stage is done twice.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from helpers.media import SPEECH_SCRIPT, speak
from helpers.processes import WorkerProcess, wait_for
from helpers.stack import Stack

DEFAULT_DRAIN = 20.0  # MEDIAJOBS_DRAIN_SECONDS's default


def _stage(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in job["stages"] if s["name"] == name)


def _job(stack: Stack, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = stack.api.get(f"/api/v1/jobs/{job_id}").json()
    return job


def _wait_running(stack: Stack, job_id: str, stage: str, *, progressed: bool) -> None:
    def running() -> bool:
        current = _stage(_job(stack, job_id), stage)
        return current["status"] == "running" and (not progressed or current["progress"] > 0)

    wait_for(running, timeout=120, interval=0.05, message=f"{stage} running")


def _sigterm_and_wait(worker: WorkerProcess, timeout: float) -> float:
    """SIGTERM to the main process only; seconds until the whole worker exited."""
    assert worker.proc is not None
    sent = time.monotonic()
    os.kill(worker.proc.pid, signal.SIGTERM)
    worker.proc.wait(timeout=timeout)
    return time.monotonic() - sent


def _assert_each_stage_done_once(job: dict[str, Any]) -> None:
    succeeded = Counter(a["stage"] for a in job["attempts"] if a["outcome"] == "succeeded")
    assert succeeded == Counter({s["name"]: 1 for s in job["stages"]}), job["attempts"]
    assert all(a["outcome"] in ("succeeded", "handed_back") for a in job["attempts"]), job["attempts"]


@pytest.fixture
def talk(tmp_path: Path) -> Path:
    return speak(SPEECH_SCRIPT, tmp_path / "talk.wav")


@pytest.fixture
def long_talk(tmp_path: Path) -> Path:
    return speak(" ".join([SPEECH_SCRIPT] * 4), tmp_path / "long.wav")  # a minute of speech


def test_a_stage_that_ends_within_the_grace_period_ends_on_the_stopping_worker(
    stack: Stack, talk: Path
) -> None:
    first = stack.worker()
    job_id = stack.submit_file(talk, "audio/wav")
    _wait_running(stack, job_id, "transcribe", progressed=False)

    assert first.proc is not None
    os.kill(first.proc.pid, signal.SIGTERM)
    sent = time.monotonic()
    later = stack.submit_file(talk, "audio/wav")  # submitted while the worker drains
    first.proc.wait(timeout=DEFAULT_DRAIN + 15)
    took = time.monotonic() - sent

    untouched = _job(stack, later)
    assert untouched["status"] == "queued", untouched  # a draining worker takes no new message
    assert untouched["attempts"] == []
    job = _job(stack, job_id)
    assert job["status"] == "succeeded", job  # transcribe ended in the grace period: nothing left
    assert took < DEFAULT_DRAIN, f"the worker took {took:.1f} s to stop"
    transcribe = [a for a in job["attempts"] if a["stage"] == "transcribe"]
    assert [a["outcome"] for a in transcribe] == ["succeeded"]
    assert "handed back" not in first.log()
    _assert_each_stage_done_once(job)


def test_a_stage_past_the_grace_period_is_handed_back_and_finished_by_another_worker(
    stack: Stack, long_talk: Path
) -> None:
    # A short grace, for the test's time only (the hand-back path is the same at any length).
    first = stack.worker(extra_env={"MEDIAJOBS_DRAIN_SECONDS": "1"})
    job_id = stack.submit_file(long_talk, "audio/wav")
    _wait_running(stack, job_id, "transcribe", progressed=False)

    took = _sigterm_and_wait(first, timeout=30)

    assert took < 10, f"the worker took {took:.1f} s to hand its stage back and stop"
    job = _job(stack, job_id)
    transcribe = _stage(job, "transcribe")
    assert transcribe["status"] == "queued", transcribe  # at once, not after a lease expiry
    assert [a["outcome"] for a in job["attempts"] if a["stage"] == "transcribe"] == ["handed_back"]
    assert "handing back" in first.log()

    second = stack.worker()
    job = stack.wait_job(job_id, timeout=150)

    assert job["status"] == "succeeded", job
    attempts = [a for a in job["attempts"] if a["stage"] == "transcribe"]
    assert [a["outcome"] for a in attempts] == ["handed_back", "succeeded"]
    assert attempts[0]["worker"] != attempts[1]["worker"]
    assert _stage(job, "transcribe")["attempts"] == 2
    _assert_each_stage_done_once(job)
    # the checkpoints before it were not redone: ingest and normalize ran once, on the first worker
    before = [a for a in job["attempts"] if a["stage"] in ("ingest", "normalize")]
    assert len(before) == 2, before
    assert all(a["worker"] == attempts[0]["worker"] for a in before), before
    assert second.proc is not None
    assert second.proc.poll() is None
    artifacts = stack.api.get(f"/api/v1/jobs/{job_id}/artifacts").json()
    names = [a["name"] for a in artifacts["artifacts"]]
    assert "transcript.srt" in names, names
    assert len(names) == len(set(names)), names
