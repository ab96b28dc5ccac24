"""Durable execution with the real services: outbox, leases, retries, cancel, time limits, idempotency."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from helpers.media import SPEECH_SCRIPT, speak
from helpers.processes import FileServer, descendants_running, wait_for, wait_gone
from helpers.redis_server import RedisServer
from helpers.settings import make_settings
from helpers.stack import Stack, open_stack

ENGINE = "mediajobs.engines.serve"


def _stages(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in job["stages"]}


def _submit_url(stack: Stack, url: str, **headers: str) -> str:
    response = stack.api.post("/api/v1/jobs", json={"pipeline": "transcribe", "source": url}, headers=headers)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


@pytest.fixture
def served(tmp_path: Path) -> Path:
    folder = tmp_path / "served"
    folder.mkdir()
    speak(SPEECH_SCRIPT, folder / "talk.wav")
    return folder


@pytest.fixture
def long_speech(tmp_path: Path) -> Path:
    folder = tmp_path / "long"
    folder.mkdir()
    return speak(" ".join([SPEECH_SCRIPT] * 10), folder / "long.wav")


# -- retries ---------------------------------------------------------------------------------------


def test_503_twice_then_200_succeeds_after_two_retries(stack: Stack, served: Path) -> None:
    stack.worker()
    with FileServer(served, failures={"/talk.wav": [503, 503]}) as server:
        job = stack.wait_job(_submit_url(stack, f"{server.url}/talk.wav"))
        assert server.hits["/talk.wav"] == 3
    assert job["status"] == "succeeded", job
    assert _stages(job)["ingest"]["attempts"] == 3
    ingest = [a for a in job["attempts"] if a["stage"] == "ingest"]
    assert [a["outcome"] for a in ingest] == ["retry", "retry", "succeeded"]
    assert ingest[0]["error"]["code"] == "download_failed"
    # Retry-After: 1 is honoured as the least delay between attempts
    starts = [time.mktime(time.strptime(a["started_at"][:19], "%Y-%m-%dT%H:%M:%S")) for a in ingest]
    assert starts[1] - starts[0] >= 0.9 or starts[2] - starts[1] >= 0.9


def test_403_fails_at_once_without_retry(stack: Stack, served: Path) -> None:
    stack.worker()
    with FileServer(served, failures={"/talk.wav": [403]}) as server:
        job = stack.wait_job(_submit_url(stack, f"{server.url}/talk.wav"))
        assert server.hits["/talk.wav"] == 1
    assert job["status"] == "failed"
    assert job["error"]["code"] == "download_failed"
    assert "403" in job["error"]["message"]
    assert [a["outcome"] for a in job["attempts"]] == ["failed"]


def test_manual_retry_reruns_a_failed_job_from_its_first_unfinished_stage(stack: Stack, served: Path) -> None:
    stack.worker()
    with FileServer(served, failures={"/talk.wav": [404]}) as server:
        job_id = _submit_url(stack, f"{server.url}/talk.wav")
        assert stack.wait_job(job_id)["status"] == "failed"
        retried = stack.api.post(f"/api/v1/jobs/{job_id}/retry")
        assert retried.status_code == 202, retried.text
        job = stack.wait_job(job_id)
        assert server.hits["/talk.wav"] == 2
    assert job["status"] == "succeeded"
    assert [a["outcome"] for a in job["attempts"] if a["stage"] == "ingest"] == ["failed", "succeeded"]
    again = stack.api.post(f"/api/v1/jobs/{job_id}/retry")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "job_not_retryable"


# -- idempotency -----------------------------------------------------------------------------------


def test_idempotency_key_replays_and_conflicts(stack: Stack) -> None:
    body = {"pipeline": "transcribe", "source": "https://example.com/a.mp3"}
    first = stack.api.post("/api/v1/jobs", json=body, headers={"Idempotency-Key": "k-1"})
    replay = stack.api.post("/api/v1/jobs", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == replay.status_code == 202
    assert first.json()["id"] == replay.json()["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    other = stack.api.post(
        "/api/v1/jobs",
        json={**body, "source": "https://example.com/b.mp3"},
        headers={"Idempotency-Key": "k-1"},
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert len(stack.api.get("/api/v1/jobs").json()["jobs"]) == 1


# -- cancel and time limits ------------------------------------------------------------------------


def _wait_transcribing(stack: Stack, job_id: str, worker_pid: int) -> int:
    """Wait until the job's transcription runs in an engine process; return that process's pid."""

    def engine_busy() -> int | None:
        job = stack.api.get(f"/api/v1/jobs/{job_id}").json()
        stage = _stages(job)["transcribe"]
        if stage["status"] != "running" or stage["progress"] <= 0:
            return None
        pids = descendants_running(worker_pid, ENGINE)
        return pids[0] if pids else None

    pid: int = wait_for(engine_busy, timeout=120, interval=0.05, message="transcription under way")  # type: ignore[assignment]
    return pid


def test_cancel_of_a_running_transcription_stops_it_within_two_seconds(
    stack: Stack, long_speech: Path
) -> None:
    worker = stack.worker()
    assert worker.proc is not None
    with long_speech.open("rb") as fh:
        job_id = stack.api.post("/api/v1/jobs", files={"file": ("long.wav", fh, "audio/wav")}).json()["id"]
    engine_pid = _wait_transcribing(stack, job_id, worker.proc.pid)

    asked = time.monotonic()
    assert stack.api.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200
    assert wait_gone(engine_pid, timeout=2.0), "the engine process was not stopped within 2 s"
    job = stack.wait_job(job_id, timeout=5)
    stopped = time.monotonic() - asked
    assert job["status"] == "cancelled"
    assert stopped < 3.0  # 2 s to stop, plus the polling of this test
    assert _stages(job)["transcribe"]["status"] == "cancelled"
    assert job["attempts"][-1]["outcome"] == "cancelled"
    work = stack.settings.work_dir / job_id / "transcribe"
    assert not work.exists()  # the attempt's scratch folder is gone: no half-written files


def test_soft_time_limit_fails_the_stage_with_timeout_and_stops_the_engine(
    tmp_path: Path, pg_url: str, redis_url: str, long_speech: Path
) -> None:
    settings = make_settings(
        tmp_path,
        MEDIAJOBS_DATABASE_URL=pg_url,
        CELERY_BROKER_URL=redis_url,
        MEDIAJOBS_STAGE_TIME_LIMITS={"transcribe": 4},
    )
    with open_stack(settings, tmp_path) as stack:
        worker = stack.worker()
        assert worker.proc is not None
        worker_pid = worker.proc.pid
        job_id = stack.submit_file(long_speech, "audio/wav")
        seen: set[int] = set()

        def ended() -> dict[str, Any] | None:
            seen.update(descendants_running(worker_pid, ENGINE))
            job: dict[str, Any] = stack.api.get(f"/api/v1/jobs/{job_id}").json()
            return job if job["status"] in ("succeeded", "failed", "cancelled") else None

        job: dict[str, Any] = wait_for(ended, timeout=60, interval=0.05, message="job ended")  # type: ignore[assignment]
        assert job["status"] == "failed", job
        assert job["error"]["code"] == "timeout"
        assert seen, "the transcription never reached its engine process"
        assert all(wait_gone(pid, timeout=2.0) for pid in seen)
        assert [a["outcome"] for a in job["attempts"] if a["stage"] == "transcribe"] == ["failed"]


# -- broker outages and redelivery -----------------------------------------------------------------


def test_redis_down_at_submit_answers_202_and_the_job_runs_once_redis_is_back(
    tmp_path: Path, pg_url: str
) -> None:
    own_redis = RedisServer(tmp_path / "redis").start()
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=own_redis.url)
    clip = speak(SPEECH_SCRIPT, tmp_path / "speech.wav")
    try:
        with open_stack(settings, tmp_path) as stack:
            own_redis.stop()
            job_id = stack.submit_file(clip, "audio/wav")
            assert stack.store.outbox.pending_outbox_count() == 1  # accepted, and waiting to be published
            own_redis.start()
            stack.worker()
            job = stack.wait_job(job_id, timeout=120)
            assert job["status"] == "succeeded", job
            assert stack.store.outbox.pending_outbox_count() == 0
    finally:
        own_redis.stop()


def test_a_stage_longer_than_the_visibility_timeout_runs_once(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    # Redis hands an unacknowledged message to another consumer after 2 s; the stage takes far longer.
    settings = make_settings(
        tmp_path,
        MEDIAJOBS_DATABASE_URL=pg_url,
        CELERY_BROKER_URL=redis_url,
        MEDIAJOBS_BROKER_VISIBILITY_TIMEOUT=2,
    )
    with open_stack(settings, tmp_path) as stack:
        first = stack.worker(concurrency=2)
        job_id = stack.submit_file(speak(" ".join([SPEECH_SCRIPT] * 5), tmp_path / "speech.wav"), "audio/wav")
        job = stack.wait_job(job_id, timeout=180)
        assert job["status"] == "succeeded", job
        assert {name: s["attempts"] for name, s in _stages(job).items()} == {
            "ingest": 1, "normalize": 1, "transcribe": 1,
        }  # fmt: skip
        assert all(a["outcome"] == "succeeded" for a in job["attempts"])
        assert "not running" in first.log()  # a redelivered message was refused, not run again
