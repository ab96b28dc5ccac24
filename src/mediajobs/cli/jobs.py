"""Commands that use the service over its HTTP API: submit, status, watch, result, cancel, jobs, retry."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mediajobs.client import ApiError, Client, StreamLost

from .common import DEFAULT_API, ApiUrl, app, console, err, fail
from .view import follow, print_outcome


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
            raise fail(f"no such file: {source}")
    with Client(api_url) as client:
        try:
            accepted = client.submit(target, pipeline=pipeline, options=options)
        except ApiError as exc:
            raise fail(f"{exc.code}: {exc.message}") from None
        console.print(accepted["id"])
        if wait:
            try:
                job = follow(client, accepted["id"])
            except (ApiError, StreamLost) as exc:
                raise fail(str(exc)) from None
            print_outcome(job)
            if job["status"] != "succeeded":
                raise typer.Exit(1)


@app.command()
def status(job_id: str, api_url: ApiUrl = DEFAULT_API) -> None:
    """Show a job's status and stages."""
    with Client(api_url) as client:
        try:
            job = client.get(job_id)
        except ApiError as exc:
            raise fail(f"{exc.code}: {exc.message}") from None
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
        raise fail(f"unknown format {format!r}: choose srt, vtt, txt or json")
    with Client(api_url) as client:
        try:
            data = client.artifact(job_id, f"transcript.{format}")
        except ApiError as exc:
            raise fail(f"{exc.code}: {exc.message}") from None
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
            raise fail(f"{exc.code}: {exc.message}") from None
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
            raise fail(f"{exc.code}: {exc.message}") from None
    table = Table("id", "pipeline", "status", "progress", "created")
    for job in page["jobs"]:
        table.add_row(job["id"], job["pipeline"], job["status"], f"{job['progress']:.0f}%", job["created_at"])
    console.print(table)


@app.command()
def watch(job_id: str, api_url: ApiUrl = DEFAULT_API) -> None:
    """Follow a job's progress live, one bar per stage, until it ends."""
    with Client(api_url) as client:
        try:
            job = follow(client, job_id)
        except ApiError as exc:
            raise fail(f"{exc.code}: {exc.message}") from None
        except StreamLost as exc:
            raise fail(str(exc)) from None
    print_outcome(job)
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
        raise fail("give a job id, or --failed (with --since) for every recently failed job", code=2)
    with Client(api_url) as client:
        if job_id is not None:
            try:
                job = client.retry(job_id)
            except ApiError as exc:
                raise fail(f"{exc.code}: {exc.message}") from None
            console.print(f"{job['id']} {job['status']}")
            return
        window = parse_duration(since)
        try:
            targets = failed_since(client, datetime.now(UTC) - window)
        except ApiError as exc:
            raise fail(f"{exc.code}: {exc.message}") from None
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
