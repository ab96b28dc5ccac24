"""The embedded default: `mediajobs up` with no Redis or PostgreSQL configured transcribes a clip,
and stops with everything it started when it gets SIGTERM (what systemd and containers send)."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

from helpers.front_doors import tour_front_doors
from helpers.media import SPEECH_SCRIPT, speak
from helpers.processes import descendants_running, free_port, http_ready, is_running, wait_serving
from helpers.tour import tour_every_pipeline
from helpers.up import mediajobs_up
from helpers.wer import wer
from mediajobs.client import Client
from mediajobs.supervise import live_children


def test_up_without_servers_transcribes_a_clip_and_stops_on_sigterm(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "up.log"
    with mediajobs_up(tmp_path, port) as proc:
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
        started = descendants_running(proc.pid, "python")
        # the API, the worker, its pool child, beat, and the speech-to-text engine the job started
        assert len(started) >= 5, started
        assert any("mediajobs.engines.serve" in Path(f"/proc/{p}/cmdline").read_text() for p in started)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log_path.read_text()[-4000:]
        assert [pid for pid in started if is_running(pid)] == []
    # everything lived under the one data directory: SQLite, the filesystem broker, the media
    assert (data_dir / "mediajobs.sqlite3").exists()
    assert (data_dir / "broker" / "control").is_dir()
    assert not (tmp_path / "control").exists()  # nothing written outside the data directory
    assert any((data_dir / "storage" / "jobs").iterdir())
    assert (data_dir / "api-key").stat().st_mode & 0o777 == 0o600  # the local admin's key, owner-only


def test_up_exits_1_and_stops_the_rest_when_a_part_dies(tmp_path: Path) -> None:
    with socket.socket() as taken:  # the API cannot listen: it exits on its own
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with mediajobs_up(tmp_path, port) as proc:
            assert proc.wait(timeout=120) == 1
    log = (tmp_path / "up.log").read_text()
    assert "api exited on its own" in log
    # the worker and beat were stopped, not orphaned (orphans would re-parent to pytest: see conftest)
    assert [p for p in live_children() if b"mediajobs" in Path(f"/proc/{p}/cmdline").read_bytes()] == []


def test_up_alone_runs_every_shipped_pipeline(tmp_path: Path) -> None:
    """`mediajobs up` and nothing else: transcribe, translate, synthesize, dub and video all finish
    (each of their queues has a worker), and the OpenAI-compatible routes and the dashboard work."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with mediajobs_up(tmp_path, port) as proc:
        wait_serving(proc, lambda: http_ready(f"{url}/readyz"), timeout=90, log=tmp_path / "up.log")
        key = (tmp_path / "data" / "api-key").read_text().strip()
        with Client(url, api_key=key) as client:
            tour_every_pipeline(client, tmp_path)
        tour_front_doors(url, key, tmp_path)
