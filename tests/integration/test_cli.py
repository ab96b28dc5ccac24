"""The `mediajobs` client commands as a user runs them (a subprocess) against a real API server on the
embedded database: one-line errors, exit codes, id prefixes, text printed as it is."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from helpers.auth import new_key
from helpers.cli import interrupt, start_cli
from helpers.live_server import live_server
from helpers.processes import free_port
from helpers.progress import claim, finish_with_transcript, submit
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.domain import ErrorInfo
from mediajobs.engines import Engines
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.store import jobs as store_jobs
from mediajobs.wiring import Services, build_services


@dataclass
class Cli:
    url: str
    key: str
    services: Services

    def __call__(
        self, *args: str, api: str | None = None, columns: int = 80
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAJOBS_")}
        env.update(MEDIAJOBS_API_KEY=self.key, COLUMNS=str(columns))
        return subprocess.run(
            [sys.executable, "-m", "mediajobs", *args, "--api", api or self.url],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture
def cli(tmp_path: Path, sqlite_url: str) -> Iterator[Cli]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url)
    services = build_services(settings, InMemoryPublisher(), engines=Engines())
    try:
        with live_server(create_app(settings, services=services, maintenance=False)) as url:
            yield Cli(url=url, key=new_key(services.store), services=services)
    finally:
        services.close()


def test_an_unreachable_api_is_one_line_and_exit_2(cli: Cli) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    for args in (["status", "abcd1234"], ["jobs"], ["result", "abcd1234"], ["cancel", "abcd"]):
        done = cli(*args, api=down)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr == f"error: cannot reach the mediajobs API at {down}: is `mediajobs up` running?\n"
        assert done.stdout == ""


def test_bad_arguments_exit_2(cli: Cli) -> None:
    assert cli("result", "abcd1234", "--format", "docx").returncode == 2
    assert cli("retry").returncode == 2
    done = cli("status", "xyz")
    assert done.returncode == 2
    assert "not a job id" in done.stderr


def test_error_messages_keep_their_square_brackets(cli: Cli, tmp_path: Path) -> None:
    clip = tmp_path / "clip.wav"
    clip.write_bytes(b"RIFF")
    done = cli("submit", str(clip), "-o", "language=klingon")
    assert done.returncode == 2
    assert done.stderr.startswith("error: invalid_options: ")
    assert "[a-z]{2,3}" in done.stderr  # the API's pattern, not eaten as rich markup
    assert len(done.stderr.strip().splitlines()) == 1


def test_prefixes_name_jobs_and_status_shows_the_stage(cli: Cli) -> None:
    job = submit(cli.services.store)
    prefix = str(job.id)[:8]
    done = cli("status", prefix)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"{job.id}  queued")
    assert "transcribe: ingest" in first
    missing = cli("status", "0000" if not str(job.id).startswith("0000") else "ffff")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: not_found: no job with an id starting with")


def test_status_says_when_no_worker_serves_the_queue_a_job_waits_in(cli: Cli) -> None:
    job = submit(cli.services.store)  # admitted: its message is on the download queue, nobody serves it
    done = cli("status", str(job.id))
    assert done.returncode == 0, done.stderr
    queue = f"{cli.services.settings.queue_prefix}download"
    said = " ".join(done.stdout.split())  # the terminal may wrap it
    assert f"waiting: no worker consumes queue '{queue}'" in said
    assert "mediajobs worker -Q download" in said


def test_watch_says_why_the_job_waits_until_it_ends(cli: Cli) -> None:
    job = submit(cli.services.store)  # on the download queue, which no worker serves
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAJOBS_")}
    argv = [sys.executable, "-m", "mediajobs", "watch", str(job.id), "--api", cli.url]
    with subprocess.Popen(
        argv,
        env={**env, "MEDIAJOBS_API_KEY": cli.key},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as watch:
        try:
            assert watch.stderr is not None
            first = watch.stderr.readline()  # blocks until `watch` says something: why the job waits
            assert "waiting: no worker consumes queue" in first
            cli.services.store.jobs.request_cancel(job.id)  # the job ends: `watch` ends with it
            assert watch.wait(timeout=60) == 1
        finally:
            if watch.poll() is None:
                watch.kill()


def test_ambiguous_prefixes_are_refused(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter(
        [uuid.UUID("abcd1234-0000-4000-8000-000000000001"), uuid.UUID("abcd5678-0000-4000-8000-000000000002")]
    )
    monkeypatch.setattr(store_jobs, "uuid", SimpleNamespace(uuid4=lambda: next(ids), UUID=uuid.UUID))
    submit(cli.services.store)
    submit(cli.services.store)
    done = cli("cancel", "abcd")
    assert done.returncode == 2
    assert "matches several jobs" in done.stderr
    assert "abcd1234-0000-4000-8000-000000000001" in done.stderr
    done = cli("cancel", "abcd5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("abcd5678-0000-4000-8000-000000000002 cancelled")


def test_result_of_an_unfinished_job_shows_the_apis_409(cli: Cli) -> None:
    job = submit(cli.services.store)
    done = cli("result", str(job.id))
    assert done.returncode == 2
    assert "has no artifact" not in done.stderr
    assert done.stderr == f"error: job_queued: job {job.id} is queued, not succeeded\n"


def test_a_failed_job_shows_skipped_stages_and_its_error(cli: Cli) -> None:
    store = cli.services.store
    job = submit(store)
    store.stages.fail_attempt(
        claim(store, job.id, "ingest"), ErrorInfo(code="unsupported_media", message="x [y]"), retry_delay=None
    )
    done = cli("status", str(job.id)[:6])
    assert done.returncode == 0, done.stderr
    assert "error: unsupported_media: x [y]" in done.stdout
    rows = {line.split()[1]: line.split()[3] for line in done.stdout.splitlines() if line.startswith("│ ")}
    assert "skipped" in done.stdout, done.stdout
    assert rows == {"ingest": "failed", "normalize": "skipped", "transcribe": "skipped"}


def test_retry_failed_skips_permanent_failures_unless_told_and_says_why(cli: Cli) -> None:
    store = cli.services.store
    jobs = {name: submit(store, source=f"https://example.com/{name}.mp3") for name in ("bad", "flaky", "odd")}
    failures = {
        "bad": ErrorInfo(code="unsupported_media", message="not audio", retryable=False),
        "flaky": ErrorInfo(code="download_failed", message="HTTP 503 (gave up after 4 attempts)"),
        "odd": ErrorInfo(code="unsupported_media", message="not audio either", retryable=False),
    }
    for name, error in failures.items():
        store.stages.fail_attempt(claim(store, jobs[name].id, "ingest"), error, retry_delay=None)
    shown = httpx.get(
        f"{cli.url}/api/v1/jobs/{jobs['bad'].id}", headers={"Authorization": f"Bearer {cli.key}"}
    ).json()
    assert shown["error"]["retryable"] is False
    assert shown["stages"][0]["error"] == shown["error"]

    dry = cli("retry", "--failed", "--since", "10m", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert str(jobs["flaky"].id) in dry.stdout
    assert str(jobs["bad"].id) not in dry.stdout
    assert "would retry 1 of 3 jobs failed in the last 10m" in dry.stderr
    assert "skipped 2 permanent failures (unsupported_media: 2)" in dry.stderr
    assert "--include-permanent" in dry.stderr

    done = cli("retry", "--failed", "--since", "10m")
    assert done.returncode == 0, done.stderr
    assert "retried 1 of 3" in done.stderr
    still_failed = {name for name, job in jobs.items() if store.jobs.get_job(job.id).status.value == "failed"}
    assert still_failed == {"bad", "odd"}  # "flaky" runs again

    everything = cli("retry", "--failed", "--since", "10m", "--include-permanent")
    assert everything.returncode == 0, everything.stderr
    assert "retried 2 of 2" in everything.stderr
    assert "skipped" not in everything.stderr
    again = store.jobs.get_job(jobs["bad"].id)
    assert again.status.value != "failed"
    assert again.error is None  # a retry clears the failure


def test_jobs_shows_whole_ids_and_source_names(cli: Cli, tmp_path: Path) -> None:
    store = cli.services.store
    job = submit(store, source="https://example.com/some/talk-recording.mp3")
    done = cli("jobs")
    assert done.returncode == 0, done.stderr
    assert str(job.id) in done.stdout  # whole, in 80 columns
    assert "talk-reco" in done.stdout
    wide = cli("jobs", columns=120)
    assert "talk-recording.mp3" in wide.stdout


def test_result_ends_with_a_newline(cli: Cli) -> None:
    job = submit(cli.services.store)
    finish_with_transcript(cli.services, str(job.id), b'{"text": "hi"}')
    done = cli("result", str(job.id)[:8], "--format", "json")
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"text": "hi"}\n'
    assert cli("result", str(job.id)[:8], "--format", "srt").stderr.startswith("error: not_found: ")


def test_ctrl_c_while_waiting_leaves_the_job_running_and_says_how_to_follow_it(cli: Cli) -> None:
    waiting = start_cli(cli.url, cli.key, "submit", "https://example.com/talk.mp3", "--wait")
    try:
        assert waiting.stderr is not None
        assert "waiting: no worker consumes queue" in waiting.stderr.readline()  # following it
        code, out, said = interrupt(waiting)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.communicate()
    job_id = out.split()[0]
    [job] = cli.services.store.jobs.list_jobs(owner_id=None).jobs
    assert code == 130, said
    assert (
        f"interrupted: job {job.id} goes on in the service; follow it with `mediajobs watch {job.id}`"
        in " ".join(said.split())
    )
    assert job.status.value == "queued"
    assert job.cancel_requested_at is None
    assert job_id == str(job.id)


def test_batch_commands_submit_files_and_urls_then_show_cancel_and_download(cli: Cli, tmp_path: Path) -> None:
    clips = []
    for name in ("one.wav", "two.wav"):
        clips.append(tmp_path / name)
        clips[-1].write_bytes(b"RIFF" + b"\0" * 64)
    done = cli("batch", "submit", str(clips[0]), str(clips[1]), "https://example.com/media/three%20b.mp3")
    assert done.returncode == 0, done.stderr
    batch_id = done.stdout.strip()
    items = cli.services.store.batches.item_page(uuid.UUID(batch_id), limit=10)
    assert [i.item_name for i in items] == ["one.wav", "two.wav", "three b.mp3"]
    sources = [cli.services.store.jobs.get_job(i.id).source for i in items]
    assert [s.split("://")[0] for s in sources] == ["upload", "upload", "https"]

    status = cli("batch", "status", batch_id[:8], columns=160)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f"running batch {batch_id}: 3 queued (0/3 ended)")
    assert status.stdout.count("queued") == 4  # the line, and each item that has not ended

    cancelled = cli("batch", "cancel", batch_id[:8])
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout == f"{batch_id} cancelled: 3 cancelled\n"
    zipped = cli("batch", "download", batch_id, "--out", str(tmp_path / "none.zip"))
    assert zipped.returncode == 0, zipped.stderr
    with zipfile.ZipFile(tmp_path / "none.zip") as archive:
        assert archive.namelist() == []  # nothing finished, nothing to zip

    waiting = start_cli(cli.url, cli.key, "batch", "retry", batch_id[:8], "--wait")
    try:
        assert waiting.stdout is not None
        assert waiting.stdout.readline().startswith(f"{batch_id} running")
        code, _, said = interrupt(waiting)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.communicate()
    assert code == 130, said
    assert f"batch {batch_id} goes on in the service" in " ".join(said.split())


def test_a_batch_is_checked_before_anything_is_uploaded(cli: Cli, tmp_path: Path) -> None:
    too_many = cli("batch", "submit", *[f"https://example.com/{i}.mp3" for i in range(1001)])
    assert too_many.returncode == 2
    assert "a batch holds at most 1,000 items, not 1,001" in too_many.stderr
    clip = tmp_path / "one.wav"
    clip.write_bytes(b"RIFF")
    missing = cli("batch", "submit", str(clip), str(tmp_path / "gone.wav"))
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: no such file: ")
    refused = cli("batch", "submit", str(clip), "-o", "language=klingon")
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: invalid_options: items[0]")
    assert cli.services.store.batches.list_batches(owner_id=None, limit=10) == []
