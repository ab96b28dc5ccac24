"""The `mediajobs` commands as a user runs them (subprocesses) against the API on a real socket, a
real Celery worker, PostgreSQL and Redis, Whisper, Apertium, espeak-ng and ffmpeg: a result out of
every pipeline, batches from files, and the watch folder across a restart."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import srt

from helpers.auth import new_key
from helpers.cli import cli_env, interrupt, read_until, run_cli, start_cli
from helpers.live_server import live_server
from helpers.media import speak, video_with_speech
from helpers.processes import WorkerProcess
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.pipelines import shipped_pipelines
from mediajobs.settings import Settings
from mediajobs.store import JobStore, create_db_engine


@dataclass
class Live:
    url: str
    key: str
    settings: Settings
    store: JobStore
    tmp_path: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    def worker(self, concurrency: int = 2) -> WorkerProcess:
        worker = WorkerProcess(
            self.settings, self.tmp_path / f"worker-{len(self.workers)}.log", concurrency=concurrency
        )
        self.workers.append(worker)
        return worker.start()

    def __call__(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return run_cli(self.url, self.key, *args, cwd=self.tmp_path, timeout=timeout)

    def api(self, path: str, **params: Any) -> Any:
        response = httpx.get(
            f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def live(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[Live]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=redis_url)
    engine = create_db_engine(pg_url)
    store = JobStore(engine, pipelines=shipped_pipelines(noop=True))
    try:
        with live_server(create_app(settings)) as url:
            stack = Live(url=url, key=new_key(store), settings=settings, store=store, tmp_path=tmp_path)
            try:
                yield stack
            finally:
                for worker in stack.workers:
                    worker.stop()
    finally:
        engine.dispose()


def _ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    return done


def _job_id(stderr: str) -> str:
    """The id `translate` and `synthesize` print on stderr (`job <id>`)."""
    return next(line.split()[1] for line in stderr.splitlines() if line.startswith("job "))


def _to_a_terminal(live: Live, *args: str) -> tuple[int, bytes]:
    """Run the command with its stdout on a pseudo-terminal: (exit code, what reached the terminal)."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mediajobs", *args, "--api", live.url],
            env=cli_env(live.key),
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=60,
        )
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed and drained
                break
            if not chunk:
                break
            shown += chunk
        return done.returncode, shown + done.stderr
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


def test_every_pipelines_result_comes_out_of_the_cli(live: Live, tmp_path: Path) -> None:
    live.worker()
    # translate: the text's translation printed
    done = _ok(
        live("translate", "The children are playing football near the river.", "--to", "es", "--from", "en")
    )
    assert "río" in done.stdout.lower() or "rio" in done.stdout.lower(), done.stdout
    translated = _job_id(done.stderr)
    result = json.loads(_ok(live("result", translated[:8])).stdout)
    assert result["target_language"] == "es"

    # synthesize: the format from the suffix; the audio goes to the file, never to a terminal
    done = _ok(live("synthesize", "Hello there, how are you?", "-o", "voice=en-us", "--out", "speech.mp3"))
    spoken = _job_id(done.stderr)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(tmp_path / "speech.mp3")],
        capture_output=True,
        check=True,
    )
    assert json.loads(probe.stdout)["streams"][0]["codec_name"] == "mp3"
    assert _ok(live("status", spoken[:8])).stdout.startswith(f"{spoken}  succeeded")
    code, shown = _to_a_terminal(live, "result", spoken[:8])
    assert code == 2
    assert b"is audio/mpeg: give --out FILE" in shown
    assert b"ID3" not in shown
    assert len(shown) < 500
    piped = subprocess.run(
        [sys.executable, "-m", "mediajobs", "result", spoken[:8], "--api", live.url],
        env=cli_env(live.key),
        capture_output=True,
        timeout=60,
    )
    assert piped.returncode == 0
    assert piped.stdout == (tmp_path / "speech.mp3").read_bytes()

    # a job:// source by id prefix, as every other command takes ids
    again = _ok(live("synthesize", f"job://{translated[:8]}", "-o", "language=es", "--out", "hola.wav"))
    source = live.api(f"/api/v1/jobs/{_job_id(again.stderr)}")["source"]
    assert source == f"job://{translated}"

    # rerun from a stage with new options, and the artifacts of the new job
    done = _ok(live("rerun", translated[:8], "--from", "translate", "-o", "target_language=pt", "--wait"))
    rerun_id = done.stdout.splitlines()[0]
    assert live.api(f"/api/v1/jobs/{rerun_id}")["rerun_of"] == translated
    listing = _ok(live("artifacts", rerun_id[:8])).stdout
    assert "translation.txt" in listing
    assert "translation.json" in listing
    _ok(live("artifacts", rerun_id, "--download", "files"))
    assert sorted(p.name for p in (tmp_path / "files").iterdir()) == sorted(
        a["name"] for a in live.api(f"/api/v1/jobs/{rerun_id}/artifacts")["artifacts"]
    )

    # dub: the result JSON names the files; --format picks the video, written to a file
    video = video_with_speech("The weather today is sunny and warm.", tmp_path / "talk.mp4")
    dub = _ok(live("submit", str(video), "--pipeline", "dub", "-o", "target_language=es", "--wait"))
    dub_id = dub.stdout.splitlines()[0]
    named = json.loads(_ok(live("result", dub_id)).stdout)
    assert named["video"] == "dubbed.mp4"
    _ok(live("result", dub_id, "--format", "mp4", "--out", "dubbed.mp4"))
    streams = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(tmp_path / "dubbed.mp4")],
        capture_output=True,
        check=True,
    )
    assert {s["codec_type"] for s in json.loads(streams.stdout)["streams"]} == {"video", "audio"}
    subtitles = _ok(live("result", dub_id, "--format", "srt")).stdout
    assert list(srt.parse(subtitles))


def test_a_batch_of_files_is_followed_to_its_end_retried_and_downloaded(live: Live, tmp_path: Path) -> None:
    clips = [speak(f"This is clip number {n}.", tmp_path / f"clip{n}.wav") for n in (1, 2, 3)]
    notes = tmp_path / "notes.pdf"
    notes.write_bytes(b"%PDF-1.7\n" + b"\0" * 2048)
    live.worker()

    done = live("batch", "submit", *map(str, clips), str(notes), "--name", "three and a pdf", "--wait")
    assert done.returncode == 1, (done.stdout, done.stderr)  # one item failed
    batch_id = done.stdout.splitlines()[0]
    summary = done.stdout.splitlines()[1]
    assert summary.startswith(f"completed_with_failures batch {batch_id}: 3 succeeded, 1 failed (4/4 ended)")
    assert "notes.pdf" in done.stdout
    assert "unsupported_media" in done.stdout

    status = _ok(live("batch", "status", batch_id[:8], "--all")).stdout
    for name in ("clip1.wav", "clip2.wav", "clip3.wav", "notes.pdf"):
        assert name in status
    assert batch_id in _ok(live("batch", "list")).stdout

    retried = live("batch", "retry", batch_id[:8], "--wait")
    assert retried.returncode == 1  # the pdf fails again, alone
    assert "3 succeeded, 1 failed" in retried.stdout
    attempts = {
        item["name"]: len(live.api(f"/api/v1/jobs/{item['id']}")["attempts"])
        for item in live.api(f"/api/v1/batches/{batch_id}")["item_page"]
    }
    assert attempts == {"clip1.wav": 3, "clip2.wav": 3, "clip3.wav": 3, "notes.pdf": 2}

    _ok(live("batch", "download", batch_id[:8], "--artifacts", "srt", "--out", "subs.zip"))
    with zipfile.ZipFile(tmp_path / "subs.zip") as archive:
        assert sorted(archive.namelist()) == [f"clip{n}.wav/transcript.srt" for n in (1, 2, 3)]
        cues = list(srt.parse(archive.read("clip2.wav/transcript.srt").decode()))
    assert "two" in " ".join(c.content for c in cues).lower() or "2" in cues[0].content

    for worker in live.workers:  # so the next batch is still open when it is cancelled (three short
        worker.stop()  # clips could otherwise all be done before `batch cancel` starts)
    cancelled = _ok(live("batch", "submit", *map(str, clips)))
    other = cancelled.stdout.strip()
    assert _ok(live("batch", "cancel", other[:8])).stdout.startswith(f"{other} ")
    assert live.api(f"/api/v1/batches/{other}")["status"] == "cancelled"


def test_the_watch_folder_takes_three_files_once_across_a_restart(live: Live, tmp_path: Path) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "subtitles"
    inbox.mkdir()
    speak("Good morning everyone.", inbox / "first.wav")
    speak("The meeting starts at ten.", inbox / "second.wav")
    (inbox / "readme.txt").write_text("not media: never taken")
    live.worker()

    # a watcher takes the two files, and is stopped (Ctrl-C) while their jobs may still run
    watcher = start_cli(
        live.url,
        live.key,
        "watch-folder",
        str(inbox),
        "--out",
        str(out),
        "--artifacts",
        "srt",
        "--interval",
        "0.2",
    )
    try:
        lines = read_until(watcher, "first.wav: submitted as job")
        lines += read_until(watcher, "second.wav: submitted as job")
        code, _rest, said = interrupt(watcher)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    assert code == 130, said
    assert "go on in the service" in said

    # a third file lands; the restarted watcher finds the first two by their keys and takes the third
    speak("Please bring your notes.", inbox / "third.wav")
    done = _ok(
        live("watch-folder", str(inbox), "--out", str(out), "--artifacts", "srt", "--once", "--interval", "0")
    )
    said_lines = done.stdout.splitlines()
    assert any(line.startswith("first.wav: already job") for line in said_lines), done.stdout
    assert any(line.startswith("second.wav: already job") for line in said_lines), done.stdout
    assert any(line.startswith("third.wav: submitted as job") for line in said_lines), done.stdout
    for name in ("first", "second", "third"):
        assert any(
            line.startswith(f"{name}.wav: succeeded") and f"-> {name}.srt" in line for line in said_lines
        )
    assert sorted(p.name for p in out.iterdir()) == ["first.srt", "second.srt", "third.srt"]
    spoken = " ".join(c.content for c in srt.parse((out / "second.srt").read_text())).lower()
    assert "meeting" in spoken

    # once more: nothing new is submitted
    again = _ok(
        live("watch-folder", str(inbox), "--out", str(out), "--artifacts", "srt", "--once", "--interval", "0")
    )
    assert "submitted" not in again.stdout
    assert again.stdout.count("succeeded earlier") == 3
    jobs = live.api("/api/v1/jobs", limit=50)["jobs"]
    assert sorted(j["source_name"] for j in jobs) == ["first.wav", "second.wav", "third.wav"]
    assert "readme.txt" not in again.stdout + done.stdout + "".join(lines)
