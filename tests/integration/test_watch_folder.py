"""The watch folder's rules against a real API server (embedded database, no worker: jobs are ended
through the store): a file is taken once it stops changing, once per (folder, name, size, mtime)
across watchers, and its job's files land in the output folder named after it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.auth import new_key
from helpers.cli import run_cli
from helpers.clock import FakeClock
from helpers.live_server import live_server
from helpers.progress import finish_with_transcript
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.cli.watchfolder import MEDIA_SUFFIXES, FolderWatcher, Settler, output_names, run
from mediajobs.client import Client
from mediajobs.engines import Engines
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.wiring import Services, build_services


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def served(tmp_path: Path, sqlite_url: str, clock: FakeClock) -> Iterator[tuple[str, str, Services]]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url)
    services = build_services(settings, InMemoryPublisher(), engines=Engines(), clock=clock)
    try:
        with live_server(create_app(settings, services=services, maintenance=False)) as url:
            yield url, new_key(services.store), services
    finally:
        services.close()


class Folder:
    def __init__(self, root: Path) -> None:
        self.inbox = root / "inbox"
        self.out = root / "out"
        self.inbox.mkdir()
        self.out.mkdir()
        self.said: list[str] = []

    def watcher(
        self,
        client: Client,
        options: dict[str, Any] | None = None,
        artifacts: frozenset[str] | None = None,
    ) -> FolderWatcher:
        return FolderWatcher(
            client,
            self.inbox,
            self.out,
            pipeline="transcribe",
            options={"language": "en"} if options is None else options,
            artifacts=artifacts,
            suffixes=MEDIA_SUFFIXES,
            say=self.said.append,
        )


def test_a_file_is_taken_once_it_stops_changing_and_never_twice(
    served: tuple[str, str, Services], tmp_path: Path
) -> None:
    url, key, services = served
    folder = Folder(tmp_path)
    growing = folder.inbox / "talk.mp3"
    growing.write_bytes(b"ID3" + b"\0" * 100)
    (folder.inbox / "notes.txt").write_text("not media")
    (folder.inbox / ".talk.mp3.part").write_bytes(b"\0" * 10)
    with Client(url, api_key=key) as client:
        watcher = folder.watcher(client)
        watcher.poll()  # the first look: nothing settled
        with growing.open("ab") as fh:
            fh.write(b"\0" * 100)  # still being copied
        watcher.poll()
        assert folder.said == []
        watcher.poll()  # unchanged since the last look: taken
        assert [line.split(" as job ")[0] for line in folder.said] == ["talk.mp3: submitted"]
        job_id = folder.said[0].rsplit(" ", 1)[-1]
        watcher.poll()
        assert len(folder.said) == 1  # not again in this run

        restarted = folder.watcher(client)  # a new run: finds the job by the file's key
        restarted.poll()
        restarted.poll()
        assert folder.said[1] == f"talk.mp3: already job {job_id} (queued), taken by an earlier run"

        finish_with_transcript(services, job_id, b'{"text": "hi"}')
        restarted.poll()
        assert folder.said[2] == f"talk.mp3: succeeded (job {job_id}) -> talk.json"
        assert (folder.out / "talk.json").read_bytes() == b'{"text": "hi"}'

        other = folder.watcher(client, options={"language": "en", "vad": True})  # other options: another job
        other.poll()
        other.poll()
        assert folder.said[3].startswith("talk.mp3: submitted as job ")

        stat = growing.stat()
        os.utime(growing, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # touched: a new file
        restarted.poll()
        restarted.poll()
        assert folder.said[4].startswith("talk.mp3: submitted as job ")
    jobs = services.store.jobs.list_jobs(owner_id=None).jobs
    assert len(jobs) == 3
    assert {j.source_name for j in jobs} == {"talk.mp3"}


def test_a_watcher_restarted_long_after_the_idempotency_ttl_submits_nothing_again(
    served: tuple[str, str, Services], tmp_path: Path, clock: FakeClock
) -> None:
    url, key, services = served
    folder = Folder(tmp_path)
    (folder.inbox / "talk.mp3").write_bytes(b"ID3" + b"\0" * 100)
    with Client(url, api_key=key) as client:
        first = folder.watcher(client)
        first.poll()
        first.poll()
        [job] = client.list()["jobs"]
        clock.advance(services.settings.idempotency_ttl_seconds + 30 * 86400)  # a month past the TTL
        later = folder.watcher(client)
        later.poll()
        later.poll()
        assert folder.said[-1] == f"talk.mp3: already job {job['id']} (queued), taken by an earlier run"
        assert len(client.list()["jobs"]) == 1
        # what a submit with the key alone would have done this late: a new job (the TTL had passed)
        [taken] = later.handled
        replay = client.submit(folder.inbox / "talk.mp3", options={"language": "en"}, idempotency_key=taken)
        assert replay["id"] != job["id"]


def test_once_takes_what_settled_writes_the_chosen_files_and_waits_for_nothing_else(
    served: tuple[str, str, Services], tmp_path: Path
) -> None:
    url, key, services = served
    folder = Folder(tmp_path)
    for name in ("a.wav", "b.wav"):
        (folder.inbox / name).write_bytes(b"RIFF" + b"\0" * 64)
    with Client(url, api_key=key) as client:
        first = folder.watcher(client)
        first.poll()
        first.poll()
        for job in client.list()["jobs"]:
            finish_with_transcript(services, job["id"], b"{}")
        again = folder.watcher(client, artifacts=frozenset({"json"}))
        naps: list[float] = []
        run(again, interval=0.5, once=True, sleep=naps.append)  # no real sleep: the test drives it
    assert naps == [0.5]
    assert sorted(p.name for p in folder.out.iterdir()) == ["a.json", "b.json"]
    assert sum("submitted" in line for line in folder.said) == 2  # by the first watcher only
    assert again.failed == 0


def test_output_names_follow_the_source() -> None:
    talk = Path("talk.mp3")
    assert output_names(talk, ["transcript.json", "transcript.srt"], None, "talk") == {
        "transcript.json": "talk.json",
        "transcript.srt": "talk.srt",
    }
    assert output_names(talk, ["transcript.json", "transcript.srt"], frozenset({"srt"}), "talk") == {
        "transcript.srt": "talk.srt"
    }
    assert output_names(talk, ["translation.srt", "bilingual.srt"], frozenset({"srt"}), "talk") == {
        "translation.srt": "talk.translation.srt",
        "bilingual.srt": "talk.bilingual.srt",
    }


def test_an_empty_file_never_settles(tmp_path: Path) -> None:
    (tmp_path / "empty.mp3").write_bytes(b"")
    settler = Settler([".mp3"])
    assert settler.scan(tmp_path) == []
    assert settler.scan(tmp_path) == []
    assert settler.changing == [tmp_path / "empty.mp3"]


def test_the_output_folder_may_not_be_the_watched_one(
    served: tuple[str, str, Services], tmp_path: Path
) -> None:
    url, key, _ = served
    done = run_cli(url, key, "watch-folder", str(tmp_path), "--out", str(tmp_path), "--once")
    assert done.returncode == 2
    assert "--out must not be the watched folder" in done.stderr
    missing = run_cli(url, key, "watch-folder", str(tmp_path / "nowhere"), "--once")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: no such folder")
