"""Live progress end to end: a real Celery worker transcribes while clients follow over SSE (and
reconnect with Last-Event-ID), over a WebSocket, with the Python client, and with the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from helpers.auth import new_key
from helpers.live_server import live_server
from helpers.media import SPEECH_SCRIPT, speak
from helpers.processes import WorkerProcess, wait_for
from helpers.progress import STAGES, sse_events
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.client import Client
from mediajobs.domain.events import EventType, ProgressEvent
from mediajobs.launch import settings_env
from mediajobs.pipelines import shipped_pipelines
from mediajobs.settings import Settings
from mediajobs.store import JobStore, create_db_engine


@dataclass
class LiveStack:
    """The API on a real socket (uvicorn), a store on the same database, worker processes."""

    url: str
    settings: Settings
    store: JobStore
    tmp_path: Path
    key: str = ""
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def worker(self) -> WorkerProcess:
        worker = WorkerProcess(self.settings, self.tmp_path / f"worker-{len(self.workers)}.log")
        self.workers.append(worker)
        return worker.start()

    def submit(self, clip: Path) -> str:
        with clip.open("rb") as fh:
            response = httpx.post(
                f"{self.url}/api/v1/jobs",
                files={"file": (clip.name, fh, "audio/wav")},
                data={"options": '{"language": "en"}'},
                headers=self.headers,
                timeout=30,
            )
        assert response.status_code == 202, response.text
        job_id: str = response.json()["id"]
        return job_id

    def log(self, job_id: str) -> list[ProgressEvent]:
        return self.store.events.job_events(uuid.UUID(job_id))


@pytest.fixture
def live(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[LiveStack]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=redis_url)
    engine = create_db_engine(pg_url)
    with live_server(create_app(settings)) as url:
        store = JobStore(engine, pipelines=shipped_pipelines(noop=True))
        stack = LiveStack(url=url, settings=settings, store=store, tmp_path=tmp_path, key=new_key(store))
        try:
            yield stack
        finally:
            for worker in stack.workers:
                worker.stop()
    engine.dispose()


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return speak(SPEECH_SCRIPT, tmp_path / "speech.wav")


def in_thread(fn: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def joined(thread: threading.Thread, errors: list[BaseException], timeout: float = 120) -> None:
    thread.join(timeout)
    assert not thread.is_alive(), "follower still running"
    assert not errors, errors


def assert_whole_job(events: list[ProgressEvent], log: list[ProgressEvent]) -> None:
    """Every logged event once, in order; every stage ran to 100; the job rose to 100 and succeeded."""
    seqs = [e.seq for e in events]
    assert seqs == [e.seq for e in log] == list(range(1, len(log) + 1))
    # ids are the logged ones shown under the owner's key (progress/cursor.py): one per event
    assert len({e.id for e in events}) == len(log)
    for stage in STAGES:
        mine = [e for e in events if e.stage == stage]
        assert mine[0].stage_status == "running", stage
        assert mine[-1].stage_status == "succeeded", stage
        assert mine[-1].stage_percent == 100, stage
        percents = [e.stage_percent for e in mine if e.stage_percent is not None]
        assert percents == sorted(percents), (stage, percents)
    job_percents = [e.job_percent for e in events]
    assert job_percents == sorted(job_percents)
    assert job_percents[-1] == 100
    assert any(e.type is EventType.PROGRESS and 0 < (e.stage_percent or 0) < 100 for e in events)
    assert [e.final for e in events] == [False] * (len(events) - 1) + [True]
    assert events[-1].status == "succeeded"
    assert all(e.file == "speech.wav" for e in events)


def test_sse_follows_a_real_transcription_and_a_reconnect_gets_exactly_what_it_missed(
    live: LiveStack, clip: Path
) -> None:
    job_id = live.submit(clip)  # queued: no worker yet
    path = f"/api/v1/jobs/{job_id}/events"

    whole: list[tuple[int, ProgressEvent]] = []
    subscribed = threading.Event()

    def follow_whole() -> None:
        with (
            httpx.Client(base_url=live.url, timeout=60, headers=live.headers) as http,
            http.stream("GET", path) as response,
        ):
            assert response.status_code == 200
            for item in sse_events(response):
                whole.append(item)
                subscribed.set()

    thread, errors = in_thread(follow_whole)
    assert subscribed.wait(10)
    live.worker()

    # a second client leaves once the job is under way, and comes back after it missed events
    first_part: list[ProgressEvent] = []
    with httpx.Client(base_url=live.url, timeout=60, headers=live.headers) as http:
        with http.stream("GET", path) as response:
            for _, event in sse_events(response):
                first_part.append(event)
                if event.stage == "normalize":
                    break
        left_at = first_part[-1].seq
        wait_for(lambda: len(live.log(job_id)) > left_at + 1, timeout=60, message="events while away")
        with http.stream("GET", path, headers={"Last-Event-ID": str(left_at)}) as response:
            assert response.status_code == 200
            second_part = [event for _, event in sse_events(response)]
    joined(thread, errors)

    log = live.log(job_id)
    assert [i for i, _ in whole] == [e.seq for _, e in whole]  # the SSE id is the seq
    assert_whole_job([e for _, e in whole], log)
    assert first_part[-1].status == "running"  # it really left mid-job
    assert second_part[0].seq == left_at + 1
    assert_whole_job(first_part + second_part, log)  # every missed event, exactly once

    job = httpx.get(f"{live.url}/api/v1/jobs/{job_id}", headers=live.headers, timeout=10).json()
    assert job["status"] == "succeeded"
    assert job["progress"] == 100


def test_websocket_and_python_client_follow_a_real_worker(live: LiveStack, clip: Path) -> None:
    job_id = live.submit(clip)
    # the form a browser can send: a WebSocket cannot set an Authorization header
    ws_url = live.url.replace("http://", "ws://") + f"/api/v1/jobs/{job_id}/ws?access_token={live.key}"
    ws_events: list[ProgressEvent] = []
    close_code: list[int | None] = []
    ws_open = threading.Event()

    def follow_ws() -> None:
        with ws_connect(ws_url, open_timeout=10) as ws:
            for message in ws:
                ws_events.append(ProgressEvent.from_json(json.loads(message)))
                ws_open.set()
            close_code.append(ws.close_code)

    client_events: list[ProgressEvent] = []
    client_open = threading.Event()

    def follow_client() -> None:
        with Client(live.url, api_key=live.key) as client:
            for event in client.subscribe_progress(job_id):
                client_events.append(event)
                client_open.set()

    followers = [in_thread(follow_ws), in_thread(follow_client)]
    assert ws_open.wait(10)
    assert client_open.wait(10)
    live.worker()  # everything after the submit event reaches them live
    for thread, errors in followers:
        joined(thread, errors)

    log = live.log(job_id)
    assert_whole_job(ws_events, log)
    assert close_code == [1000]
    assert_whole_job(client_events, log)


def run_cli(live: LiveStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = settings_env(live.settings)
    env["MEDIAJOBS_API_URL"] = live.url
    env["MEDIAJOBS_API_KEY"] = live.key
    env["COLUMNS"] = "120"
    return subprocess.run(
        [sys.executable, "-m", "mediajobs", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_cli_submit_wait_and_watch_draw_stage_bars(live: LiveStack, clip: Path) -> None:
    live.worker()
    submitted = run_cli(live, "submit", str(clip), "--wait", "-o", "language=en")
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.split()[0]
    assert f"succeeded {job_id}" in submitted.stdout
    for stage in STAGES:
        assert f"{stage} [succeeded]" in submitted.stderr, submitted.stderr
    assert "job [succeeded]" in submitted.stderr

    watched = run_cli(live, "watch", job_id)  # a finished job: replays its events and ends
    assert watched.returncode == 0, watched.stderr
    assert f"succeeded {job_id}" in watched.stdout
    assert "transcribe [succeeded]" in watched.stderr

    missing = run_cli(live, "watch", "8d6b3c1e-9f6a-4f55-a5c4-2c8f3b1b9c11")
    assert missing.returncode == 2  # an error answer of the API (1 is for a job that failed)
    assert "not_found" in missing.stderr

    # a job that fails for good (not media), then `retry --failed --since` finds it (and only it),
    # leaves it alone (it would fail again) and says why, and `--include-permanent` runs it again
    bad = httpx.post(
        f"{live.url}/api/v1/jobs",
        files={"file": ("notes.txt", b"not audio\n" * 50, "text/plain")},
        headers=live.headers,
        timeout=30,
    ).json()["id"]
    wait_for(lambda: live.log(bad)[-1].status == "failed", timeout=60, message="the bad job failed")
    failure = httpx.get(f"{live.url}/api/v1/jobs/{bad}", headers=live.headers, timeout=30).json()["error"]
    assert (failure["code"], failure["retryable"]) == ("unsupported_media", False)
    listed = run_cli(live, "retry", "--failed", "--since", "10m", "--dry-run", "--include-permanent")
    assert listed.returncode == 0, listed.stderr
    assert bad in listed.stdout
    assert job_id not in listed.stdout
    skipped = run_cli(live, "retry", "--failed", "--since", "10m")
    assert skipped.returncode == 0, skipped.stderr
    assert "retried 0 of 1" in skipped.stderr
    assert "skipped 1 permanent failure (unsupported_media: 1)" in skipped.stderr
    assert live.log(bad)[-1].status == "failed"
    retried = run_cli(live, "retry", "--failed", "--since", "10m", "--include-permanent")
    assert retried.returncode == 0, retried.stderr
    assert "retried 1 of 1" in retried.stderr

    def ran_again() -> bool:
        log = live.log(bad)
        first_end = next(i for i, e in enumerate(log) if e.final)
        return any(e.status in ("queued", "running") for e in log[first_end + 1 :])

    wait_for(ran_again, timeout=30, message="the failed job queued again")
