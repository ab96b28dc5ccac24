"""`mediajobs watch-folder DIR`: every media file that lands in a folder becomes one job, and the files
it asks for are written beside the others in an output folder, named after the source
(`talk.mp3` -> `talk.srt`).

How it knows what it already took, across restarts, with nothing kept on the watcher's disk: each file
is submitted under an Idempotency-Key derived from the folder's absolute path, the file's name, size
and mtime (nanoseconds), the pipeline and its options. Before it submits, it asks the API for the job
of that key (`GET /api/v1/jobs?idempotency_key=`), which finds it however long ago it was made; the
submit's own key settles a race between two watchers of one folder. The API's idempotency TTL (24 h by
default) is not relied on: a watcher stopped for a weekend would otherwise submit every file again. A
file that changes (new size or mtime) is a new file; so is every file of a moved folder.

The folder is scanned (not watched with inotify, which misses changes on NFS and SMB mounts, where
watch folders often live); a file is taken once two scans in a row see the same size and mtime.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from mediajobs.client import ApiError, Client

from .common import (
    DEFAULT_API,
    EXIT_INTERRUPTED,
    EXIT_JOB_FAILED,
    ApiUrl,
    OptionArg,
    api_client,
    app,
    console,
    err,
    fail,
    parse_options,
)

# What ffmpeg reads that people keep in media folders; --suffix replaces the list (text pipelines).
MEDIA_SUFFIXES = (
    ".aac", ".aif", ".aiff", ".amr", ".avi", ".flac", ".flv", ".m2ts", ".m4a", ".m4v", ".mka", ".mkv",
    ".mov", ".mp3", ".mp4", ".mpeg", ".mpg", ".mts", ".oga", ".ogg", ".opus", ".ts", ".wav", ".webm",
    ".wma", ".wmv", ".3gp",
)  # fmt: skip
ENDED = frozenset({"succeeded", "failed", "cancelled", "expired", "deleted"})
KEY_PREFIX = "watch-folder:"
CHECKS_PER_SCAN = 20  # running jobs asked about per scan, in turn (a GET each)


@dataclass(frozen=True, slots=True)
class Seen:
    """A file as one scan saw it."""

    path: Path
    size: int
    mtime_ns: int


def watch_key(folder: Path, seen: Seen, pipeline: str, options: Mapping[str, Any]) -> str:
    """The Idempotency-Key a file is submitted under (and looked up by): the same file, unchanged, in
    the same folder, for the same pipeline and options, is the same key."""
    fingerprint = json.dumps(
        [str(folder), seen.path.name, seen.size, seen.mtime_ns, pipeline, dict(options)], sort_keys=True
    )
    return KEY_PREFIX + hashlib.sha256(fingerprint.encode()).hexdigest()


class Settler:
    """Tells when files stopped changing: a file is settled when two scans in a row see the same size
    and mtime (an empty file never is: a copy that just began)."""

    def __init__(self, suffixes: Iterable[str]) -> None:
        self.suffixes = tuple(s.lower() if s.startswith(".") else f".{s.lower()}" for s in suffixes)
        self._last: dict[Path, tuple[int, int]] = {}
        self.changing: list[Path] = []  # seen by the last scan, not settled yet

    def wanted(self, name: str) -> bool:
        """A file to take: not hidden or temporary, with one of the suffixes."""
        return not name.startswith((".", "~")) and name.lower().endswith(self.suffixes)

    def scan(self, folder: Path) -> list[Seen]:
        """The settled files of `folder` (its own files, not its subfolders'), by name."""
        now: dict[Path, tuple[int, int]] = {}
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file() and self.wanted(entry.name):
                    stat = entry.stat()
                    now[Path(entry.path)] = (stat.st_size, stat.st_mtime_ns)
        settled = sorted(p for p, state in now.items() if state[0] > 0 and self._last.get(p) == state)
        self.changing = sorted(set(now) - set(settled))
        self._last = now
        return [Seen(path, *now[path]) for path in settled]


def output_names(
    source: Path, artifacts: list[str], wanted: frozenset[str] | None, stem: str
) -> dict[str, str]:
    """Each chosen artifact's output file name: `<stem>.<suffix>`, or `<stem>.<artifact name>` when
    several chosen artifacts share a suffix (`talk.translation.srt`, `talk.bilingual.srt`)."""
    chosen = [a for a in artifacts if wanted is None or a.rsplit(".", 1)[-1].lower() in wanted]
    suffixes = Counter(a.rsplit(".", 1)[-1].lower() for a in chosen)
    return {
        a: f"{stem}.{a.rsplit('.', 1)[-1].lower()}"
        if suffixes[a.rsplit(".", 1)[-1].lower()] == 1
        else f"{stem}.{a}"
        for a in chosen
    }


@dataclass(frozen=True, slots=True)
class Taken:
    seen: Seen
    job_id: str
    earlier: bool  # submitted by an earlier run of a watcher (found by its key)


class FolderWatcher:
    """Scans a folder, submits each settled file once (by its key), and writes the chosen files of the
    jobs that succeeded to the output folder; `say` gets one line per event, the last per file its
    summary. `poll` does one round; the caller decides how often."""

    def __init__(
        self,
        client: Client,
        folder: Path,
        out: Path,
        *,
        pipeline: str,
        options: Mapping[str, Any],
        artifacts: frozenset[str] | None,
        suffixes: Iterable[str],
        say: Callable[[str], None],
    ) -> None:
        self.client = client
        self.folder = folder.resolve()
        self.out = out
        self.pipeline = pipeline
        self.options = dict(options)
        self.artifacts = artifacts
        self.settler = Settler(suffixes)
        self.say = say
        self.handled: set[str] = set()  # keys taken by this run
        self.running: dict[str, Taken] = {}  # by job id
        self.failed = 0  # files whose job did not succeed (or whose files could not be written)

    def poll(self) -> None:
        """Take the files that stopped changing; write the files of the jobs that ended."""
        for seen in self.settler.scan(self.folder):
            key = watch_key(self.folder, seen, self.pipeline, self.options)
            if key not in self.handled:
                self.handled.add(key)
                try:
                    self._take(seen, key)
                except BaseException:
                    self.handled.discard(key)  # taken again at the next scan (its key finds a job made)
                    raise
        for job_id in list(self.running)[:CHECKS_PER_SCAN]:
            job = self.client.get(job_id)
            taken = self.running.pop(job_id)
            if job["status"] not in ENDED:
                self.running[job_id] = taken  # to the back: the next scan asks about the others first
                continue
            try:
                self._deliver(taken, job)
            except BaseException:
                self.running[job_id] = taken  # its files are written at a later scan
                raise

    def drain(self) -> None:
        """Wait for every job taken to end (following its event stream), writing files as they end."""
        for job_id in list(self.running):
            for _ in self.client.subscribe_progress(job_id):
                pass
            taken = self.running.pop(job_id)
            self._deliver(taken, self.client.get(job_id))

    def _take(self, seen: Seen, key: str) -> None:
        name = seen.path.name
        job = self.client.find_by_key(key)
        earlier = job is not None
        if job is None:
            try:
                job = self.client.submit(
                    seen.path, pipeline=self.pipeline, options=self.options, idempotency_key=key
                )
            except ApiError as exc:
                if exc.status == 429 or exc.status >= 500:
                    self.say(f"{name}: not submitted now ({exc.code}: {exc.message})")
                    raise _TryAgain from None
                self.say(f"{name}: refused: {exc.code}: {exc.message}")
                self.failed += 1
                return
            except FileNotFoundError:
                self.say(f"{name}: gone before it was sent")
                return
            self.say(f"{name}: submitted as job {job['id']}")
        else:
            self.say(f"{name}: already job {job['id']} ({job['status']}), taken by an earlier run")
        taken = Taken(seen=seen, job_id=str(job["id"]), earlier=earlier)
        if job["status"] in ENDED:
            self._deliver(taken, job if "stages" in job else self.client.get(taken.job_id))
        else:
            self.running[taken.job_id] = taken

    def _stem(self, source: Path) -> str:
        """The output files' stem: the source's, or its whole name when another watched file shares it."""
        twins = [
            p
            for p in self.folder.iterdir()
            if p.stem == source.stem and p != source and self.settler.wanted(p.name)
        ]
        return source.name if twins else source.stem

    def _deliver(self, taken: Taken, job: dict[str, Any]) -> None:
        name, job_id, status = taken.seen.path.name, taken.job_id, job["status"]
        if status != "succeeded":
            self.failed += 1
            if status in ("expired", "deleted"):
                self.say(
                    f"{name}: job {job_id} {status}: its files are gone (touch {name} to submit it again)"
                )
                return
            error = job.get("error") or {}
            reason = f": {error.get('code')}: {error.get('message')}" if error else ""
            self.say(f"{name}: {status} (job {job_id}){reason}")
            return
        names = output_names(
            taken.seen.path,
            [a["name"] for a in self.client.artifacts(job_id)],
            self.artifacts,
            self._stem(taken.seen.path),
        )
        if not names:
            self.failed += 1
            self.say(f"{name}: succeeded (job {job_id}), but it made none of the files asked for")
            return
        if taken.earlier and all((self.out / target).exists() for target in names.values()):
            self.say(f"{name}: succeeded earlier (job {job_id}) -> {', '.join(sorted(names.values()))}")
            return
        for artifact, target in names.items():
            self.client.save_artifact(job_id, artifact, self.out / target)
        self.say(f"{name}: succeeded (job {job_id}) -> {', '.join(sorted(names.values()))}")


class _TryAgain(Exception):
    """A file the API could not take now (a quota, a moment of overload): the next scan tries again."""


def run(watcher: FolderWatcher, *, interval: float, once: bool, sleep: Callable[[float], None]) -> None:
    """Scan every `interval` seconds until interrupted; with `once`: look twice (`interval` apart),
    take what settled, wait for those jobs, and return."""
    watcher.settler.scan(watcher.folder)  # the first look: nothing has settled yet
    while True:
        if interval > 0:
            sleep(interval)
        try:
            watcher.poll()
        except _TryAgain:
            pass
        except httpx.TransportError as exc:
            if once:
                raise
            watcher.say(f"cannot reach the API ({type(exc).__name__}); trying again")
        if once:
            for path in watcher.settler.changing:
                watcher.say(f"{path.name}: still changing; left for the next run")
            watcher.drain()
            return


@app.command("watch-folder")
def watch_folder(
    folder: Annotated[Path, typer.Argument(help="The folder to watch (its own files, not its subfolders).")],
    pipeline: str = "transcribe",
    out: Annotated[
        Path | None, typer.Option("--out", help="Where the jobs' files go (default: DIR/out).")
    ] = None,
    option: OptionArg = None,
    artifacts: Annotated[
        str | None,
        typer.Option("--artifacts", help="Which files of each job, by type: srt,vtt (default: all)."),
    ] = None,
    suffix: Annotated[
        list[str] | None,
        typer.Option("--suffix", help="Take files ending so (repeatable; default: audio and video types)."),
    ] = None,
    interval: Annotated[
        float, typer.Option("--interval", min=0, help="Seconds between scans; a file settles over one.")
    ] = 2.0,
    once: Annotated[
        bool, typer.Option("--once", help="Look twice, take what settled, wait for those jobs, and exit.")
    ] = False,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Make a job of every media file that lands in a folder, once each, across restarts.

    A file is taken once its size and mtime stop changing; the files of its job (--artifacts) are
    written to the output folder named after it: talk.mp3 -> talk.srt. Runs until Ctrl-C (jobs go
    on), or with --once takes what is there, waits for those jobs and exits (1 if one failed)."""
    if not folder.is_dir():
        raise fail(f"no such folder: {folder}")
    target = out if out is not None else folder / "out"
    if target.resolve() == folder.resolve():
        raise fail("--out must not be the watched folder (the files written there would be taken too)")
    target.mkdir(parents=True, exist_ok=True)
    wanted = (
        frozenset(a.strip().lower().lstrip(".") for a in artifacts.split(",") if a.strip())
        if artifacts
        else None
    )
    with api_client(api_url) as client:
        watcher = FolderWatcher(
            client,
            folder,
            target,
            pipeline=pipeline,
            options=parse_options(option),
            artifacts=wanted,
            suffixes=suffix or MEDIA_SUFFIXES,
            say=lambda line: console.print(line, markup=False, soft_wrap=True),
        )
        if not once:
            err.print(
                f"watching {watcher.folder} ({pipeline} jobs, files to {target}); Ctrl-C stops", markup=False
            )
        try:
            run(watcher, interval=interval, once=once, sleep=time.sleep)
        except KeyboardInterrupt:
            left = len(watcher.running)
            err.print(
                f"stopped watching {watcher.folder}; {left} job(s) still running go on in the service: run "
                "watch-folder again to write their files (it finds them, it does not submit them again)",
                markup=False,
                soft_wrap=True,
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
    if once and watcher.failed:
        raise typer.Exit(EXIT_JOB_FAILED)
