"""The embedded default: `mediajobs up` with no Redis or PostgreSQL configured transcribes a clip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers.media import SPEECH_SCRIPT, speak
from helpers.processes import free_port, http_ready, wait_serving
from helpers.wer import wer
from mediajobs.client import Client


def test_up_without_servers_transcribes_a_clip(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CELERY_", "MEDIAJOBS_")) and k != "REDIS_URL"
    }
    env.update(MEDIAJOBS_DATA_DIR=str(data_dir), CELERY_WORKER_CONCURRENCY="1")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "up.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mediajobs", "up", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_serving(proc, lambda: http_ready(f"{url}/readyz"), timeout=90, log=log_path)
        clip = speak(SPEECH_SCRIPT, tmp_path / "speech.wav")
        with Client(url, api_key=(data_dir / "api-key").read_text().strip()) as client:
            job_id = client.submit(clip)["id"]
            job = client.wait(job_id, timeout=180, poll=0.2)
            assert job["status"] == "succeeded", (job, log_path.read_text()[-4000:])
            text = client.result(job_id)["text"]
            assert wer(SPEECH_SCRIPT, text) <= 0.25, text
            srt = client.artifact(job_id, "transcript.srt").decode()
            assert "-->" in srt
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    # everything lived under the one data directory: SQLite, the filesystem broker, the media
    assert (data_dir / "mediajobs.sqlite3").exists()
    assert (data_dir / "broker" / "control").is_dir()
    assert not (tmp_path / "control").exists()  # nothing written outside the data directory
    assert any((data_dir / "storage" / "jobs").iterdir())
    assert (data_dir / "api-key").stat().st_mode & 0o777 == 0o600  # the local admin's key, owner-only
