"""The `mediajobs` command: run the service (up, api, worker, beat, migrate) and use it (submit, ...)."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mediajobs.client import ApiError, Client, StreamLost
from mediajobs.domain.events import ProgressEvent
from mediajobs.errors import MediaJobsError
from mediajobs.settings import get_settings

app = typer.Typer(
    help="mediajobs: asynchronous media jobs over HTTP.", no_args_is_help=True, pretty_exceptions_enable=False
)
console = Console()
err = Console(stderr=True)

ApiUrl = Annotated[str, typer.Option("--api", envvar="MEDIAJOBS_API_URL", help="Base URL of the API.")]
DEFAULT_API = "http://127.0.0.1:8000"

DEMO_SCRIPT = (
    "Welcome to media jobs. This short recording was made by a computer voice. "
    "The service listens to it and writes down every word, "
    "with the time of each line, as subtitles."
)


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


# -- running the service -----------------------------------------------------------------------


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from mediajobs.launch import migrate_database

    settings = get_settings()
    revision = migrate_database(settings)
    console.print(f"database migrated to revision [bold]{revision}[/bold]")


@app.command()
def api(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the HTTP API."""
    from mediajobs.launch import run_api

    settings = get_settings()
    _logging(settings.log_level)
    try:
        run_api(settings, host=host, port=port)
    except MediaJobsError as exc:
        raise _fail(str(exc)) from None


@app.command()
def worker(
    queues: Annotated[str | None, typer.Option("-Q", "--queues", help="Comma-separated queues.")] = None,
    concurrency: Annotated[int | None, typer.Option("-c", "--concurrency")] = None,
    loglevel: Annotated[str | None, typer.Option("--loglevel", "-l")] = None,
    pool: Annotated[str | None, typer.Option("--pool", help="prefork (default), threads or solo")] = None,
) -> None:
    """Run a Celery worker (all queues unless -Q is given)."""
    from mediajobs.launch import run_worker

    settings = get_settings()
    try:
        run_worker(
            settings,
            queues=queues.split(",") if queues else None,
            concurrency=concurrency,
            loglevel=loglevel,
            pool=pool,
        )
    except MediaJobsError as exc:
        raise _fail(str(exc)) from None


@app.command()
def beat(loglevel: Annotated[str | None, typer.Option("--loglevel", "-l")] = None) -> None:
    """Run Celery beat (periodic maintenance: lease reaper, outbox relay)."""
    from mediajobs.launch import run_beat

    try:
        run_beat(get_settings(), loglevel=loglevel)
    except MediaJobsError as exc:
        raise _fail(str(exc)) from None


@app.command()
def up(
    host: str = "127.0.0.1",
    port: int = 8000,
    concurrency: Annotated[int | None, typer.Option("-c", "--concurrency")] = None,
) -> None:
    """Run API, worker and beat together (embedded SQLite + filesystem broker unless configured)."""
    from mediajobs.launch import run_up

    settings = get_settings()
    _logging(settings.log_level)
    mode = "embedded (SQLite, filesystem broker)" if settings.embedded else "configured broker"
    err.print(f"mediajobs up: {mode}, data in {settings.data_dir}, API on http://{host}:{port}")
    run_up(settings, host=host, port=port, concurrency=concurrency)


# -- using the service -------------------------------------------------------------------------


def _parse_option(pair: str) -> tuple[str, Any]:
    if "=" not in pair:
        raise typer.BadParameter(f"expected key=value, got {pair!r}")
    key, raw = pair.split("=", 1)
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


@app.command()
def submit(
    source: Annotated[str, typer.Argument(help="A local file (uploaded), an http(s) URL or upload://<id>.")],
    pipeline: str = "transcribe",
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="key=value, repeatable")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job until it ends.")] = False,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Submit a job and print its id."""
    options = dict(_parse_option(p) for p in option or [])
    target: str | Path = source
    if not source.startswith(("http://", "https://", "upload://", "job://")):
        target = Path(source)
        if not target.is_file():
            raise _fail(f"no such file: {source}")
    with Client(api_url) as client:
        try:
            accepted = client.submit(target, pipeline=pipeline, options=options)
        except ApiError as exc:
            raise _fail(f"{exc.code}: {exc.message}") from None
        console.print(accepted["id"])
        if wait:
            try:
                job = _follow(client, accepted["id"])
            except (ApiError, StreamLost) as exc:
                raise _fail(str(exc)) from None
            _print_outcome(job)
            if job["status"] != "succeeded":
                raise typer.Exit(1)


class _StageBars:
    """Rich progress bars of one job: the whole job, then one per stage, fed by progress events."""

    def __init__(self, progress: Progress, stages: list[str]) -> None:
        self.progress = progress
        self.overall = progress.add_task("job", total=100)
        self.bars: dict[str, Any] = {}
        for name in stages:
            self._bar(name)

    def _bar(self, stage: str) -> Any:
        if stage not in self.bars:
            self.bars[stage] = self.progress.add_task(f"  {stage}", total=100)
        return self.bars[stage]

    def update(self, event: ProgressEvent) -> None:
        # escape: "[running]" would otherwise be read as rich markup and vanish
        self.progress.update(
            self.overall, completed=event.job_percent, description=escape(f"job [{event.status}]")
        )
        if event.stage is None:
            return
        bar = self._bar(event.stage)
        state = event.stage_status or "running"
        message = f" {event.message}" if event.message and state == "running" else ""
        description = escape(f"  {event.stage} [{state}]{message[:60]}")
        if state == "succeeded":
            self.progress.update(bar, total=100, completed=100, description=description)
        elif event.stage_percent is None and state == "running":
            self.progress.update(bar, total=None, description=description)  # indeterminate: a pulse
        elif event.stage_percent is not None:
            self.progress.update(bar, total=100, completed=event.stage_percent, description=description)
        else:
            self.progress.update(bar, description=description)


def _follow(client: Client, job_id: str) -> dict[str, Any]:
    """Draw the job's progress from its event stream until it ends; returns the final job."""
    job = client.get(job_id)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        bars = _StageBars(progress, [stage["name"] for stage in job["stages"]])
        for event in client.subscribe_progress(job_id):
            bars.update(event)
    return client.get(job_id)


def _print_outcome(job: dict[str, Any]) -> None:
    if job["status"] == "succeeded":
        console.print(f"[green]succeeded[/green] {job['id']}")
    else:
        error = job.get("error") or {}
        console.print(f"[red]{job['status']}[/red] {job['id']}: {error.get('code')}: {error.get('message')}")


@app.command()
def status(job_id: str, api_url: ApiUrl = DEFAULT_API) -> None:
    """Show a job's status and stages."""
    with Client(api_url) as client:
        try:
            job = client.get(job_id)
        except ApiError as exc:
            raise _fail(f"{exc.code}: {exc.message}") from None
    console.print(f"{job['id']}  [bold]{job['status']}[/bold]  {job['progress']:.1f}%  {job['pipeline']}")
    if job.get("error"):
        console.print(f"error: {job['error']['code']}: {job['error']['message']}")
    table = Table("stage", "status", "attempts", "progress", "error")
    for stage in job["stages"]:
        error = stage.get("error") or {}
        table.add_row(
            stage["name"],
            stage["status"],
            str(stage["attempts"]),
            f"{stage['progress']:.0f}%",
            error.get("code") or "",
        )
    console.print(table)


@app.command()
def result(
    job_id: str,
    format: Annotated[str, typer.Option("--format", "-f", help="srt, vtt, txt or json")] = "json",
    output: Annotated[Path | None, typer.Option("-o", "--output")] = None,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Print (or save) a finished job's transcript."""
    if format not in ("srt", "vtt", "txt", "json"):
        raise _fail(f"unknown format {format!r}: choose srt, vtt, txt or json")
    with Client(api_url) as client:
        try:
            data = client.artifact(job_id, f"transcript.{format}")
        except ApiError as exc:
            raise _fail(f"{exc.code}: {exc.message}") from None
    if output is not None:
        output.write_bytes(data)
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(data.decode("utf-8"))


@app.command()
def cancel(job_id: str, api_url: ApiUrl = DEFAULT_API) -> None:
    """Cancel a job."""
    with Client(api_url) as client:
        try:
            job = client.cancel(job_id)
        except ApiError as exc:
            raise _fail(f"{exc.code}: {exc.message}") from None
    console.print(
        f"{job['id']} {job['status']}" + (" (cancel requested)" if job["status"] == "running" else "")
    )


@app.command()
def jobs(
    status: Annotated[str | None, typer.Option("--status")] = None,
    pipeline: Annotated[str | None, typer.Option("--pipeline")] = None,
    limit: int = 20,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """List recent jobs."""
    with Client(api_url) as client:
        try:
            page = client.list(status=status, pipeline=pipeline, limit=limit)
        except ApiError as exc:
            raise _fail(f"{exc.code}: {exc.message}") from None
    table = Table("id", "pipeline", "status", "progress", "created")
    for job in page["jobs"]:
        table.add_row(job["id"], job["pipeline"], job["status"], f"{job['progress']:.0f}%", job["created_at"])
    console.print(table)


@app.command()
def watch(job_id: str, api_url: ApiUrl = DEFAULT_API) -> None:
    """Follow a job's progress live, one bar per stage, until it ends."""
    with Client(api_url) as client:
        try:
            job = _follow(client, job_id)
        except ApiError as exc:
            raise _fail(f"{exc.code}: {exc.message}") from None
        except StreamLost as exc:
            raise _fail(str(exc)) from None
    _print_outcome(job)
    if job["status"] != "succeeded":
        raise typer.Exit(1)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `1h`, `1h30m`, `2d`, `1w` as a timedelta."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise typer.BadParameter(f"expected a duration like 30m, 1h or 2d, got {text!r}")
    return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))


def failed_since(client: Client, cutoff: datetime, *, page_size: int = 200) -> list[dict[str, Any]]:
    """Failed jobs that finished at or after `cutoff`, newest first (every page of the failed list:
    the list is ordered by creation, and a job created long ago may have failed recently)."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = client.list(status="failed", limit=page_size, cursor=cursor)
        for job in page["jobs"]:
            finished = job.get("finished_at")
            if finished and datetime.fromisoformat(finished) >= cutoff:
                found.append(job)
        cursor = page.get("next_cursor")
        if not cursor:
            return found


@app.command()
def retry(
    job_id: Annotated[str | None, typer.Argument(help="The job to run again.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Retry every failed job of the window.")] = False,
    since: Annotated[str, typer.Option("--since", help="With --failed: how far back, e.g. 1h.")] = "1h",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --failed: only list them.")] = False,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Run a failed job again from its first unfinished stage (or, with --failed, every recent one)."""
    if (job_id is None) == (not failed):
        raise _fail("give a job id, or --failed (with --since) for every recently failed job", code=2)
    with Client(api_url) as client:
        if job_id is not None:
            try:
                job = client.retry(job_id)
            except ApiError as exc:
                raise _fail(f"{exc.code}: {exc.message}") from None
            console.print(f"{job['id']} {job['status']}")
            return
        window = parse_duration(since)
        try:
            targets = failed_since(client, datetime.now(UTC) - window)
        except ApiError as exc:
            raise _fail(f"{exc.code}: {exc.message}") from None
        errors = 0
        for job in targets:
            if dry_run:
                console.print(
                    f"{job['id']} failed at {job['finished_at']}: {(job.get('error') or {}).get('code')}"
                )
                continue
            try:
                retried = client.retry(job["id"])
                console.print(f"{retried['id']} {retried['status']}")
            except ApiError as exc:
                errors += 1
                err.print(f"[red]{job['id']}[/red] {exc.code}: {exc.message}")
        verb = "would retry" if dry_run else "retried"
        err.print(f"{verb} {len(targets) - errors} of {len(targets)} jobs failed in the last {since}")
        if errors:
            raise typer.Exit(1)


@app.command()
def demo(
    port: int = 8765,
    keep: Annotated[bool, typer.Option(help="Keep the demo's data folder.")] = False,
) -> None:
    """Start everything embedded, transcribe a generated speech clip, print the SRT, stop."""
    if shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None:
        raise _fail("the demo needs espeak-ng and ffmpeg (apt-get install espeak-ng ffmpeg)")
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
        with Client(api_url) as client:
            accepted = client.submit(clip)
            err.print(f"submitted job {accepted['id']}")
            job = _follow(client, accepted["id"])
            _print_outcome(job)
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
            raise _fail(f"mediajobs up exited early:\n{log_file.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{api_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)  # waiting for a server we started to listen
    raise _fail(f"mediajobs up did not become ready in {timeout} s; see {log_file}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
