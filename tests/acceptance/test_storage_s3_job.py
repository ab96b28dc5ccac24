"""A job whose worker cannot see the API's disk: both keep everything in S3 (moto on 127.0.0.1).

The API (a real uvicorn server) and the worker (a subprocess) have data folders of their own, on the
`s3` storage backend and one bucket. The upload goes up from the API, the worker transcribes from the
bucket (long enough to be cut in chunks, each reading its byte range of the normalized WAV from
the bucket), and the artifacts come back to the Python client and the CLI through presigned redirects.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.auth import new_key
from helpers.cli import run_cli
from helpers.live_server import live_server
from helpers.media import SPEECH_SCRIPT, speak
from helpers.processes import running_worker
from helpers.s3_server import S3Server
from helpers.settings import make_settings
from helpers.wer import wer
from mediajobs.api.app import create_app
from mediajobs.client import Client
from mediajobs.pipelines import shipped_pipelines
from mediajobs.store import JobStore, create_db_engine

# about 18 s: cut in two chunks (MEDIAJOBS_CHUNK_SECONDS=10, its minimum; a cut needs 15 s)
SCRIPT = SPEECH_SCRIPT + "My brother plays the piano every evening after dinner.\n"


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    server = S3Server(tmp_path / "moto.log").start()
    try:
        yield server
    finally:
        server.stop()


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_worker_that_cannot_see_the_api_disk_runs_the_job_from_s3(
    s3: S3Server, tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    bucket = s3.bucket(tmp_path)
    shared = {
        **s3.settings_values(bucket),
        "MEDIAJOBS_DATABASE_URL": pg_url,
        "CELERY_BROKER_URL": redis_url,
    }
    api_settings = make_settings(tmp_path / "api-host", **shared)
    worker_settings = make_settings(
        tmp_path / "worker-host",
        **shared,
        MEDIAJOBS_QUEUE_PREFIX=api_settings.queue_prefix,
        # chunks read their part of normalize's WAV from the bucket by byte range (stages/chunk.py)
        MEDIAJOBS_CHUNK_THRESHOLD_SECONDS=10,
        MEDIAJOBS_CHUNK_SECONDS=10,
    )
    clip = speak(SCRIPT, tmp_path / "clip.wav")
    engine = create_db_engine(pg_url)
    try:
        store = JobStore(engine, pipelines=shipped_pipelines())
        key = new_key(store)
        with (
            live_server(create_app(api_settings)) as url,
            running_worker(worker_settings, tmp_path / "worker.log"),
            Client(url, api_key=key) as client,
        ):
            job = client.wait(client.submit(clip)["id"], timeout=180)
            assert job["status"] == "succeeded", job
            transcript = client.result(job["id"])  # a 307 to a presigned URL, followed
            assert isinstance(transcript, dict)
            assert wer(SCRIPT, transcript["text"]) <= 0.3
            stages = {a.stage for a in store.jobs.list_attempts(uuid.UUID(job["id"]))}
            assert {"chunk[0]", "chunk[1]"} <= stages, stages

            names = [a["name"] for a in client.artifacts(job["id"])]
            assert "transcript.srt" in names
            srt = client.artifact(job["id"], "transcript.srt").decode()
            assert "-->" in srt
            out = tmp_path / "t.json"
            done = run_cli(url, key, "result", job["id"], "--out", str(out))
            assert done.returncode == 0, done.stderr
            assert json.loads(out.read_text())["text"] == transcript["text"]

        keys = [o["Key"] for o in s3.client(tmp_path).list_objects_v2(Bucket=bucket)["Contents"]]
        assert any(k.startswith("uploads/") for k in keys)
        assert any(k.startswith(f"jobs/{job['id']}/artifacts/") for k in keys)
        assert any(k.startswith(f"jobs/{job['id']}/stages/normalize/") for k in keys)
        for host in ("api-host", "worker-host"):  # neither host kept a stored object on its disk
            stored = [f for f in _files(tmp_path / host) if "storage/" in f or f.endswith((".wav", ".srt"))]
            assert stored == [], (host, stored)
    finally:
        engine.dispose()
