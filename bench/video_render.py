"""Video render speed: a 10-scene, 2-minute 720p script through the `video` pipeline, against the same
ffmpeg command run directly.

    .venv/bin/python -m bench.video_render            # prints the figures
    .venv/bin/python -m bench.video_render --write    # and records them in docs/benchmarks.md

One worker process (`mediajobs worker -c 1`, the defaults otherwise) on this machine's PostgreSQL and
Redis runs the job; its figures come from the database (the job's wall time, submit to finish, and
the render stage's attempt). The baseline, measured in the same run, is `render_argv` (the very
command the stage runs) on the same cards, narration and subtitles, started by hand in a folder of
its own. Runs alternate (job, ffmpeg, job, ffmpeg, ...) so a busy neighbour hurts both alike.
Targets (issue 20): the render stage within 1.1x of ffmpeg alone; the whole job at least 5x faster
than real time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mediajobs.domain import LOCAL_USER_ID, OPTIONS_SOURCE, JobStatus
from mediajobs.domain.options import VideoOptions
from mediajobs.domain.routing import queue_router
from mediajobs.launch import settings_env
from mediajobs.pipelines import get_pipeline
from mediajobs.queue.dispatcher import Dispatcher
from mediajobs.registry import build_registry
from mediajobs.settings import Settings
from mediajobs.storage import LocalStorage
from mediajobs.store import JobStore, create_db_engine, migrate

from .sections import scratch_database, write_section

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
PG_ADMIN = os.environ.get("MEDIAJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("MEDIAJOBS_TEST_REDIS", "redis://127.0.0.1:6379") + "/13"
SCENE_SECONDS = 12.0
SCENES = [
    {
        "title": f"Part {n + 1}",
        "text": "The river runs through the old town, and the children play near the bridge "
        f"while the market opens for the day. This is part {n + 1} of ten.",
        "duration": SCENE_SECONDS,
    }
    for n in range(10)
]
STAGE_TARGET = 1.1  # the render stage's time over ffmpeg alone, at most
JOB_TARGET = 5.0  # seconds of video per second of the whole job, at least


@dataclass(frozen=True, kw_only=True, slots=True)
class JobRun:
    video_seconds: float
    job_seconds: float  # submit to finish
    render_seconds: float  # the render stage's attempt


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    log = open(log_path, "ab")  # noqa: SIM115 - the child writes it
    worker = subprocess.Popen(
        [sys.executable, "-m", "mediajobs", "worker", "-c", "1"],
        env=settings_env(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while " ready." not in log_path.read_text(errors="replace"):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"worker did not start; see {log_path}")
        time.sleep(0.2)  # waiting for the process this script started
    return worker


def run_job(store: JobStore, dispatcher: Dispatcher, timeout: float) -> tuple[JobRun, uuid.UUID]:
    options = VideoOptions.model_validate({"scenes": SCENES}).model_dump(mode="json")
    job, _ = dispatcher.settled(
        store.jobs.create_job,
        owner_id=LOCAL_USER_ID,
        pipeline=get_pipeline("video"),
        source=OPTIONS_SOURCE,
        options=options,
    )
    deadline = time.monotonic() + timeout
    while not (done := store.jobs.get_job(job.id)).status.terminal:
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job.id} did not finish within {timeout:.0f} s")
        time.sleep(0.1)  # polling the database for the job's end
    if done.status is not JobStatus.SUCCEEDED or done.finished_at is None:
        raise SystemExit(f"job {job.id} ended {done.status.value}: {done.error}")
    render = next(a for a in store.jobs.list_attempts(job.id) if a.stage == "render")
    assert render.finished_at is not None
    output = next(s.output for s in done.stages if s.name == "render") or {}
    return (
        JobRun(
            video_seconds=float(output["duration"]),
            job_seconds=(done.finished_at - done.created_at).total_seconds(),
            render_seconds=(render.finished_at - render.started_at).total_seconds(),
        ),
        job.id,
    )


def prepare_direct(store: JobStore, settings: Settings, job_id: uuid.UUID, folder: Path) -> list[str]:
    """The render stage's inputs for that job, written by the stage's own `prepare_render` into
    `folder`; the ffmpeg command the stage ran."""
    from mediajobs.engines import Engines
    from mediajobs.stages.base import StageContext
    from mediajobs.stages.video_render import prepare_render

    job = store.jobs.get_job(job_id)
    assets = next(s.output for s in job.stages if s.name == "assets") or {}
    ctx = StageContext(
        job_id=job_id, stage="render", attempt=1, source=job.source, options=job.options,
        inputs={"assets": assets}, work_dir=folder, storage=LocalStorage(settings.resolved_storage_dir),
        settings=settings, engines=Engines(),
    )  # fmt: skip
    return prepare_render(ctx, VideoOptions.model_validate(job.options)).argv


def time_direct(argv: list[str], folder: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=folder, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--write", action="store_true", help="record the figures in docs/benchmarks.md")
    args = parser.parse_args()
    with scratch_database(PG_ADMIN) as db_url:
        run(args, db_url)


def run(args: argparse.Namespace, db_url: str) -> None:
    engine = create_db_engine(db_url)
    migrate(engine)
    data = Path(tempfile.mkdtemp(prefix="mj-bench-video-"))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, MEDIAJOBS_DATA_DIR=data, MEDIAJOBS_DATABASE_URL=db_url, CELERY_BROKER_URL=REDIS,
        MEDIAJOBS_QUEUE_PREFIX=f"bench{uuid.uuid4().hex[:6]}.", CELERY_LOG_LEVEL="info",
    )  # fmt: skip
    registry = build_registry(settings)
    store = JobStore(engine, pipelines=registry.pipelines, queue_for=queue_router(settings.queue_prefix))
    dispatcher = Dispatcher(store, registry.publisher())
    worker = start_worker(settings, data / "worker.log")
    jobs: list[JobRun] = []
    direct: list[float] = []
    try:
        run_job(store, dispatcher, args.timeout)  # warm-up: imports, fonts, first espeak-ng
        for rep in range(args.reps):
            result, job_id = run_job(store, dispatcher, args.timeout)
            jobs.append(result)
            folder = data / f"direct-{rep}"
            folder.mkdir()
            argv = prepare_direct(store, settings, job_id, folder)
            direct.append(time_direct(argv, folder))
            shutil.rmtree(folder)
            print(
                f"rep {rep + 1}: job {result.job_seconds:.2f} s, render stage {result.render_seconds:.2f} s, "
                f"ffmpeg alone {direct[-1]:.2f} s, video {result.video_seconds:.1f} s"
            )
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        engine.dispose()
        shutil.rmtree(data, ignore_errors=True)
    report(jobs, direct, args)


def report(jobs: list[JobRun], direct: list[float], args: argparse.Namespace) -> None:
    video = jobs[0].video_seconds
    job = statistics.median(r.job_seconds for r in jobs)
    stage = statistics.median(r.render_seconds for r in jobs)
    alone = statistics.median(direct)
    ratio = statistics.median(r.render_seconds / d for r, d in zip(jobs, direct, strict=True))  # paired
    met = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.node()} ({os.cpu_count()} cores), "
        f"`python -m bench.video_render --reps {args.reps}`: a 10-scene, {video:.0f} s, 1280x720, 25 fps "
        "script (drawn cards, espeak-ng narration, burned-in and soft subtitles), one worker process "
        "(`-c 1`), medians of the runs after a warm-up.",
        "",
        "| what | seconds | video seconds per wall second | target |",
        "|---|---|---|---|",
        f"| ffmpeg alone (the stage's command, by hand) | {alone:.2f} | {video / alone:.1f}x | baseline |",
        f"| render stage (fetch, join, subtitles, ffmpeg, store) | {stage:.2f} | {video / stage:.1f}x | "
        f"{ratio:.2f}x of ffmpeg alone (median of the runs' ratios), at most {STAGE_TARGET}x: "
        f"{met(ratio <= STAGE_TARGET)} |",
        f"| whole job (script, assets, render, thumbnail, publish) | {job:.2f} | {video / job:.1f}x | "
        f"at least {JOB_TARGET:.0f}x real time: {met(video / job >= JOB_TARGET)} |",
        "",
        "Runs: " + "; ".join(
            f"job {r.job_seconds:.2f} s, stage {r.render_seconds:.2f} s, ffmpeg {d:.2f} s"
            for r, d in zip(jobs, direct, strict=True)
        ) + f". Load average at the end: {os.getloadavg()[0]:.2f} (other work on this shared machine).",
    ]  # fmt: skip
    body = "\n".join(lines)
    print(body)
    if args.write:
        write_section(DOC, "video-render", "Video render (issue 20)", body)


if __name__ == "__main__":
    main()
