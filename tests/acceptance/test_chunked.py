"""Long media in parallel: ten minutes of espeak-ng speech transcribed whole and in chunks.

One upload, two jobs through the HTTP API with real workers, ffmpeg and Whisper. The first runs on a
worker that never cuts audio (`MEDIAJOBS_CHUNK_THRESHOLD_SECONDS=0`); the second on two workers with
the default settings, one of which is SIGKILLed while it transcribes a chunk. The chunked transcript
must be as good as the whole one, in order, with nothing doubled at the seams, and only the chunks
that had not finished may run again. A cancel of a twelve-minute chunked job stops every chunk that
runs, and its engine process, within 2 s at the product's default lease and heartbeat.

At full scale (`MEDIAJOBS_TEST_SCALE=full`) the file is ten minutes cut at the defaults (150 s chunks);
CI runs it small: five and a half minutes cut into chunks of 75 s, the same four chunks and three seams.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from helpers.media import long_script, speak
from helpers.processes import descendants_running, wait_for
from helpers.scale import FULL_SCALE
from helpers.settings import make_settings
from helpers.stack import Stack, open_stack
from helpers.wer import wer, words
from mediajobs.domain import StageStatus
from mediajobs.settings import Settings

SCRIPT = long_script() if FULL_SCALE else long_script(90)
# how the chunked workers cut it: the defaults at full scale; half the chunk length when small
CUT = {} if FULL_SCALE else {"MEDIAJOBS_CHUNK_SECONDS": "75", "MEDIAJOBS_CHUNK_THRESHOLD_SECONDS": "120"}
TIMEOUT = 900  # ten minutes of audio on a shared two-core machine


@pytest.fixture(scope="session")
def ten_minutes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ten-minute speech file, made once per test session."""
    return speak(SCRIPT, tmp_path_factory.mktemp("long-speech") / "ten-minutes.wav")


def _transcript(stack: Stack, job_id: str) -> dict[str, Any]:
    response = stack.api.get(f"/api/v1/jobs/{job_id}/result")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def _repeats(text: str, longest: int = 6) -> list[str]:
    """Runs of 2..`longest` words said twice back to back ("to the park to the park")."""
    said = words(text)
    found = []
    for size in range(2, longest + 1):
        for i in range(len(said) - 2 * size + 1):
            if said[i : i + size] == said[i + size : i + 2 * size]:
                found.append(" ".join(said[i : i + 2 * size]))
    return found


def _assert_in_order(transcript: dict[str, Any], duration: float) -> None:
    segments = transcript["segments"]
    assert segments
    previous_end = 0.0
    for segment in segments:
        assert segment["start"] >= previous_end - 0.001, (previous_end, segment)
        assert segment["end"] >= segment["start"], segment
        previous_end = segment["end"]
    assert previous_end <= duration + 0.5
    assert previous_end >= duration - 15  # the last chunk's words are there, on the file's clock


@pytest.mark.timeout(TIMEOUT)
def test_ten_minutes_in_chunks_match_the_whole_and_a_killed_worker_redoes_only_its_chunk(
    stack: Stack, ten_minutes: Path
) -> None:
    with ten_minutes.open("rb") as fh:
        uploaded = stack.api.post("/api/v1/uploads", files={"file": (ten_minutes.name, fh, "audio/wav")})
    assert uploaded.status_code == 201, uploaded.text
    source = uploaded.json()["source"]

    def submit() -> str:
        response = stack.api.post("/api/v1/jobs", json={"pipeline": "transcribe", "source": source})
        assert response.status_code == 202, response.text
        job_id: str = response.json()["id"]
        return job_id

    # -- whole: a worker that never cuts ---------------------------------------------------------
    whole_worker = stack.worker(extra_env={"MEDIAJOBS_CHUNK_THRESHOLD_SECONDS": "0"})
    whole_id = submit()
    whole_job = stack.wait_job(whole_id, timeout=TIMEOUT)
    whole_worker.stop()
    assert whole_job["status"] == "succeeded", whole_job
    assert [s["name"] for s in whole_job["stages"]] == ["ingest", "normalize", "transcribe"]
    whole = _transcript(stack, whole_id)

    # -- chunked: two workers with the defaults, one killed mid-way ---------------------------------
    victim = stack.worker(extra_env={"MEDIAJOBS_WORKER_NAME": "w1", **CUT})
    stack.worker(extra_env={"MEDIAJOBS_WORKER_NAME": "w2", **CUT})
    chunked_id = submit()
    job_uuid = uuid.UUID(chunked_id)

    def chunks(status: StageStatus, owner: str | None = None) -> list[str]:
        return [
            s.name
            for s in stack.store.jobs.get_job(job_uuid).stages
            if s.parent == "normalize"
            and s.status is status
            and (owner is None or (s.lease_owner or "").startswith(f"{owner}:"))
        ]

    wait_for(
        lambda: len(chunks(StageStatus.SUCCEEDED)) >= 2 and chunks(StageStatus.RUNNING, "w1"),
        timeout=TIMEOUT,
        interval=0.05,
        message="w1 transcribing a chunk after two chunks finished",
    )
    progress_before = stack.api.get(f"/api/v1/jobs/{chunked_id}").json()["progress"]
    before = stack.store.jobs.get_job(job_uuid)
    victim.kill()
    finished_before = {s.name for s in before.stages if s.parent and s.status is StageStatus.SUCCEEDED}
    running_on_victim = {
        s.name
        for s in before.stages
        if s.parent and s.status is StageStatus.RUNNING and (s.lease_owner or "").startswith("w1:")
    }
    chunked_job = stack.wait_job(chunked_id, timeout=TIMEOUT)
    assert chunked_job["status"] == "succeeded", chunked_job
    chunked = _transcript(stack, chunked_id)

    # -- what ran, and how often (the database's attempt records) -----------------------------------
    done = stack.store.jobs.get_job(job_uuid)
    children = [s for s in done.stages if s.parent == "normalize"]
    normalized = done.stage("normalize").output or {}
    assert len(children) == normalized["chunks"] >= 2
    assert all(c.run == "transcribe_chunk" and c.kind == "transcribe" for c in children)
    attempts: dict[str, list[str]] = {}
    for attempt in stack.store.jobs.list_attempts(job_uuid):
        attempts.setdefault(attempt.stage, []).append(attempt.outcome or "")
    for name in finished_before:
        assert attempts[name] == ["succeeded"], (name, attempts[name])  # a finished chunk never reruns
    assert running_on_victim
    for name in running_on_victim:
        assert attempts[name][0] == "lost", (name, attempts[name])
        assert attempts[name][-1] == "succeeded", (name, attempts[name])
    for name, outcomes in attempts.items():
        assert outcomes.count("succeeded") == 1, (name, outcomes)
    assert attempts["normalize"] == ["succeeded"]
    assert attempts["transcribe"] == ["succeeded"]
    # progress counted the chunks that had finished when w1 died
    assert progress_before >= (2 + 5.5 * len(finished_before) / len(children)) / 8 * 100 - 0.5
    assert chunked_job["progress"] == 100

    # -- the transcripts -------------------------------------------------------------------------
    duration = float(normalized["duration"])
    assert duration >= (570 if FULL_SCALE else 320)
    whole_wer, chunked_wer = wer(SCRIPT, whole["text"]), wer(SCRIPT, chunked["text"])
    print(
        f"\n{duration:.0f} s in {len(children)} chunks; WER whole {whole_wer:.4f}, "
        f"chunked {chunked_wer:.4f}; killed w1 running {sorted(running_on_victim)} "
        f"after {len(finished_before)} chunks"
    )
    assert whole_wer <= 0.25
    assert chunked_wer <= whole_wer + 0.03
    _assert_in_order(chunked, duration)
    _assert_in_order(whole, duration)
    assert _repeats(chunked["text"]) == _repeats(SCRIPT) == []
    assert abs(len(words(chunked["text"])) - len(words(SCRIPT))) <= 0.03 * len(words(SCRIPT))


ENGINE = "mediajobs.engines.serve"


@pytest.mark.timeout(TIMEOUT)
def test_a_cancel_of_a_twelve_minute_chunked_job_stops_every_chunk_and_engine_within_two_seconds(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    twelve_minutes = speak(long_script(195), tmp_path / "twelve-minutes.wav")
    defaults = {  # what users run: a running stage learns of a cancel through its lease's heartbeat
        "MEDIAJOBS_LEASE_SECONDS": Settings.model_fields["lease_seconds"].default,
        "MEDIAJOBS_HEARTBEAT_SECONDS": Settings.model_fields["heartbeat_seconds"].default,
    }
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=redis_url, **defaults)
    with open_stack(settings, tmp_path) as stack:
        worker = stack.worker(concurrency=2)  # two chunks at once, each with its engine process
        assert worker.proc is not None
        pid = worker.proc.pid
        job_id = stack.submit_file(twelve_minutes, "audio/wav")
        job_uuid = uuid.UUID(job_id)

        def transcribing() -> list[str]:
            stages = stack.store.jobs.get_job(job_uuid).stages
            busy = [s.name for s in stages if s.parent and s.status is StageStatus.RUNNING and s.progress > 0]
            return busy if len(busy) >= 2 and len(descendants_running(pid, ENGINE)) >= 2 else []

        wait_for(transcribing, timeout=TIMEOUT, interval=0.05, message="two chunks transcribing")
        asked = time.monotonic()
        assert stack.api.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200

        def stopped() -> bool:
            job = stack.store.jobs.get_job(job_uuid)
            running = [s.name for s in job.stages if s.status is StageStatus.RUNNING]
            open_attempts = [
                a.stage for a in stack.store.jobs.list_attempts(job_uuid) if a.finished_at is None
            ]
            return not running and not open_attempts and not descendants_running(pid, ENGINE)

        wait_for(stopped, timeout=10, interval=0.02, message="every chunk and engine stopped")
        took = time.monotonic() - asked
        job = stack.wait_job(job_id, timeout=5)
        chunks = [s for s in job["stages"] if s["name"].startswith("chunk[")]
        print(f"\n{len(chunks)} chunks; running chunks and engines stopped {took:.2f} s after the cancel")
        assert took <= 2.0
        assert job["status"] == "cancelled"
        assert {s["status"] for s in chunks} == {"cancelled"}
        outcomes = {a["stage"]: a["outcome"] for a in job["attempts"] if a["stage"].startswith("chunk[")}
        assert len(outcomes) >= 2
        assert set(outcomes.values()) <= {"cancelled", "lease_lost"}  # the runners stopped, none finished
