"""Commands that run the service: migrate, api, worker, beat, up, demo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from mediajobs.client import Client
from mediajobs.errors import MediaJobsError
from mediajobs.localkey import read_key_file
from mediajobs.settings import get_settings

from .common import app, console, err, fail, setup_logging
from .view import follow, print_outcome

DEMO_SCRIPT = (
    "Welcome to media jobs. This short recording was made by a computer voice. "
    "The service listens to it and writes down every word, "
    "with the time of each line, as subtitles."
)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from mediajobs.launch import migrate_database

    settings = get_settings()
    revision = migrate_database(settings)
    console.print(f"database migrated to revision [bold]{revision}[/bold]")


@app.command()
def api(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1, help="API processes sharing the port.")] = 1,
) -> None:
    """Run the HTTP API."""
    from mediajobs.launch import run_api

    settings = get_settings()
    setup_logging(settings, "api")
    try:
        run_api(settings, host=host, port=port, workers=workers)
    except MediaJobsError as exc:
        raise fail(str(exc), code=1) from None


@app.command()
def worker(
    queues: Annotated[
        str | None,
        typer.Option(
            "-Q",
            "--queues",
            help="Comma-separated queue kinds to serve (default: every kind the deployment knows, "
            "plug-ins' included, and maintenance). Shipped: download, media, transcribe, translate, "
            "synthesize, maintenance.",
        ),
    ] = None,
    exclude: Annotated[
        str | None,
        typer.Option(
            "-X",
            "--exclude",
            help="Comma-separated queue kinds not to serve (e.g. `-X transcribe`: every other queue).",
        ),
    ] = None,
    lane: Annotated[
        str | None, typer.Option("--lane", help="Comma-separated lanes to serve (express, standard, batch).")
    ] = None,
    concurrency: Annotated[int | None, typer.Option("-c", "--concurrency")] = None,
    loglevel: Annotated[str | None, typer.Option("--loglevel", "-l")] = None,
    pool: Annotated[str | None, typer.Option("--pool", help="prefork (default), threads or solo")] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=1,
            max=65535,
            help="Serve Prometheus metrics (every pool process's) on this port "
            "(default: MEDIAJOBS_WORKER_METRICS_PORT; none: off).",
        ),
    ] = None,
) -> None:
    """Run a Celery worker: every lane (express first) and queue kind unless --lane, -Q or -X narrow it."""
    from mediajobs.worker import run_worker

    settings = get_settings()
    try:
        run_worker(
            settings,
            queues=queues.split(",") if queues else None,
            exclude=exclude.split(",") if exclude else (),
            lanes=lane.split(",") if lane else None,
            concurrency=concurrency,
            loglevel=loglevel,
            pool=pool,
            metrics_port=metrics_port,
        )
    except MediaJobsError as exc:
        raise fail(str(exc), code=1) from None


@app.command()
def beat(loglevel: Annotated[str | None, typer.Option("--loglevel", "-l")] = None) -> None:
    """Run Celery beat (periodic maintenance: lease reaper, outbox relay)."""
    from mediajobs.launch import run_beat

    try:
        run_beat(get_settings(), loglevel=loglevel)
    except MediaJobsError as exc:
        raise fail(str(exc), code=1) from None


@app.command()
def up(
    host: str = "127.0.0.1",
    port: int = 8000,
    concurrency: Annotated[
        int | None, typer.Option("-c", "--concurrency", help="Slots for download, media and maintenance.")
    ] = None,
    transcribe_concurrency: Annotated[
        int | None,
        typer.Option(
            "--transcribe-concurrency",
            help="Transcribe slots, one speech-to-text engine each (default: cores, bounded by memory).",
        ),
    ] = None,
    grace: Annotated[
        float, typer.Option("--grace", help="Seconds the parts get to stop on SIGTERM/SIGINT before SIGKILL.")
    ] = 30.0,
) -> None:
    """Run API, worker and beat together (embedded SQLite + filesystem broker unless configured).

    SIGTERM or SIGINT stops all of them (and whatever they started); exits 1 if one of them died."""
    from mediajobs.launch import run_up

    settings = get_settings()
    setup_logging(settings, "up")
    mode = "embedded (SQLite, filesystem broker)" if settings.embedded else "configured broker"
    err.print(
        f"mediajobs up: {mode}, data in {settings.data_dir}, API on http://{host}:{port}, "
        f"API key in {settings.api_key_file}",
        markup=False,
    )
    code = run_up(
        settings,
        host=host,
        port=port,
        concurrency=concurrency,
        transcribe_concurrency=transcribe_concurrency,
        grace=grace,
    )
    if code:
        raise typer.Exit(code)


@app.command()
def demo(
    port: int = 8765,
    keep: Annotated[bool, typer.Option(help="Keep the demo's data folder.")] = False,
) -> None:
    """Start everything embedded, transcribe a generated speech clip, print the SRT, stop."""
    if shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None:
        raise fail("the demo needs espeak-ng and ffmpeg (apt-get install espeak-ng ffmpeg)")
    data_dir = Path(tempfile.mkdtemp(prefix="mediajobs-demo-"))
    clip = data_dir / "demo.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(clip), DEMO_SCRIPT], check=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CELERY_BROKER_URL", "REDIS_URL", "MEDIAJOBS_DATABASE_URL")
    }
    env.update(MEDIAJOBS_DATA_DIR=str(data_dir), CELERY_WORKER_CONCURRENCY="1", CELERY_LOG_LEVEL="warning")
    log_file = data_dir / "up.log"
    with open(log_file, "wb") as log_out:
        server = subprocess.Popen(
            [sys.executable, "-m", "mediajobs", "up", "--port", str(port)],
            env=env,
            stdout=log_out,
            stderr=subprocess.STDOUT,
        )
    api_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(api_url, server, log_file)
        with Client(api_url, api_key=read_key_file(data_dir / "api-key")) as client:
            accepted = client.submit(clip)
            err.print(f"submitted job {accepted['id']}")
            job = follow(client, accepted["id"])
            print_outcome(job)
            if job["status"] != "succeeded":
                raise typer.Exit(1)
            sys.stdout.write(client.artifact(accepted["id"], "transcript.srt").decode())
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)


def _wait_ready(api_url: str, server: subprocess.Popen[bytes], log_file: Path, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise fail(f"mediajobs up exited early:\n{log_file.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{api_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)  # waiting for a server we started to listen
    raise fail(f"mediajobs up did not become ready in {timeout} s; see {log_file}")
