"""Commands about jobs, over the HTTP API: submit, status, watch, cancel, delete, jobs, retry, rerun.

Wherever a job id is taken, a unique prefix of it (at least 4 hex digits) will do, as in git.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from mediajobs.client import ApiError, Client
from mediajobs.client.api import looks_like_source

from .common import (
    DEFAULT_API,
    EXIT_CLIENT_ERROR,
    EXIT_JOB_FAILED,
    ApiUrl,
    OptionArg,
    api_client,
    app,
    console,
    err,
    fail,
    goes_on,
    parse_options,
    plain,
)
from .view import follow, print_outcome, waiting_text

JobIdArg = Annotated[str, typer.Argument(help="A job id, or a unique prefix of it (at least 4 hex digits).")]


@app.command()
def submit(
    source: Annotated[
        str,
        typer.Argument(
            help="A local file (uploaded), an http(s) URL, upload://<id> or job://<id or prefix>."
        ),
    ],
    pipeline: str = "transcribe",
    option: OptionArg = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job until it ends.")] = False,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Submit a job and print its id (with --wait: exit 1 when the job does not succeed)."""
    options = parse_options(option)
    target: str | Path = source
    if not looks_like_source(source):
        target = Path(source)
        if not target.is_file():
            raise fail(f"no such file: {source}")
    with api_client(api_url) as client:
        accepted = client.submit(target, pipeline=pipeline, options=options)
        job_id = str(accepted["id"])
        with job_goes_on(job_id):
            console.print(job_id, markup=False)
            if not wait:
                return
            job = follow(client, job_id)
    print_outcome(job)
    if job["status"] != "succeeded":
        raise typer.Exit(EXIT_JOB_FAILED)


def job_goes_on(job_id: str) -> AbstractContextManager[None]:
    """Ctrl-C from here on leaves the job running and says how to follow it (from the moment its id
    is known: a Ctrl-C between printing it and following it is no different)."""
    return goes_on(f"job {job_id}", f"mediajobs watch {job_id}")


def _stage_of(job: dict[str, Any]) -> str:
    """The stage a job is at: its current one, else the first that is not finished."""
    if job.get("current_stage"):
        return str(job["current_stage"])
    for stage in job["stages"]:
        if stage["status"] in ("running", "queued", "ready", "pending", "failed"):
            return str(stage["name"])
    return "-"


@app.command()
def status(job_id: JobIdArg, api_url: ApiUrl = DEFAULT_API) -> None:
    """Show a job's status, the stage it is at, and its stages."""
    with api_client(api_url) as client:
        job = client.get(client.resolve_id(job_id))
    line = Text.assemble(
        job["id"], "  ", (job["status"], "bold"), f"  {job['progress']:.1f}%  ", f"{job['pipeline']}: "
    )
    line.append(_stage_of(job) if job["status"] not in ("succeeded",) else "done")
    if job.get("source_name"):
        line.append(f"  ({job['source_name']})")
    console.print(line)
    if job.get("error"):
        console.print(plain(f"error: {job['error']['code']}: {job['error']['message']}"))
    waiting = waiting_text(job)
    if waiting is not None:
        console.print(plain(waiting))
    table = Table("stage", "status", "attempts", "progress", "error")
    for stage in job["stages"]:
        error = stage.get("error") or {}
        table.add_row(
            plain(stage["name"]),
            plain(stage["status"]),
            str(stage["attempts"]),
            f"{stage['progress']:.0f}%",
            plain(error.get("code") or ""),
        )
    console.print(table)


@app.command()
def cancel(job_id: JobIdArg, api_url: ApiUrl = DEFAULT_API) -> None:
    """Cancel a job."""
    with api_client(api_url) as client:
        job = client.cancel(client.resolve_id(job_id))
    suffix = " (cancel requested)" if job["status"] == "running" else ""
    console.print(f"{job['id']} {job['status']}{suffix}", markup=False)


@app.command()
def delete(job_id: JobIdArg, api_url: ApiUrl = DEFAULT_API) -> None:
    """Delete an ended job's media and artifacts (the job stays listed as `deleted`)."""
    with api_client(api_url) as client:
        job = client.delete_job(client.resolve_id(job_id))
    console.print(f"{job['id']} {job['status']}", markup=False)


@app.command()
def jobs(
    status: Annotated[str | None, typer.Option("--status")] = None,
    pipeline: Annotated[str | None, typer.Option("--pipeline")] = None,
    limit: int = 20,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """List recent jobs (full ids; any unique prefix of one names the job in other commands)."""
    with api_client(api_url) as client:
        page = client.list(status=status, pipeline=pipeline, limit=limit)
    several = len({job["pipeline"] for job in page["jobs"]}) > 1
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("status", no_wrap=True)
    table.add_column("progress", justify="right", no_wrap=True)
    table.add_column("created", no_wrap=True)
    if several:
        table.add_column("pipeline", no_wrap=True)
    table.add_column("source", no_wrap=True, overflow="ellipsis")
    for job in page["jobs"]:
        cells = [
            job["id"],
            plain(job["status"]),
            f"{job['progress']:.0f}%",
            job["created_at"][5:16].replace("T", " "),
            *([plain(job["pipeline"])] if several else []),
            plain(job.get("source_name") or job["source"]),
        ]
        table.add_row(*cells)
    console.print(table)


@app.command()
def watch(job_id: JobIdArg, api_url: ApiUrl = DEFAULT_API) -> None:
    """Follow a job's progress live, one bar per stage, until it ends (exit 1 unless it succeeded)."""
    with api_client(api_url) as client:
        full_id = client.resolve_id(job_id)
        with job_goes_on(full_id):
            job = follow(client, full_id)
    print_outcome(job)
    if job["status"] != "succeeded":
        raise typer.Exit(EXIT_JOB_FAILED)


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
    job_id: Annotated[str | None, typer.Argument(help="The job to run again (id or unique prefix).")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Retry every failed job of the window.")] = False,
    since: Annotated[str, typer.Option("--since", help="With --failed: how far back, e.g. 1h.")] = "1h",
    include_permanent: Annotated[
        bool,
        typer.Option(
            "--include-permanent",
            help="With --failed: also the permanent failures (error.retryable false), which fail again.",
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --failed: only list them.")] = False,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Run a failed job again from its first unfinished stage (or, with --failed, every recent one
    whose failure may pass another time)."""
    if (job_id is None) == (not failed):
        raise fail("give a job id, or --failed (with --since) for every recently failed job")
    window = parse_duration(since)
    with api_client(api_url) as client:
        if job_id is not None:
            job = client.retry(client.resolve_id(job_id))
            console.print(f"{job['id']} {job['status']}", markup=False)
            return
        targets, skipped = permanent_apart(
            failed_since(client, datetime.now(UTC) - window), include=include_permanent
        )
        errors = 0
        for job in targets:
            if dry_run:
                console.print(
                    f"{job['id']} failed at {job['finished_at']}: {(job.get('error') or {}).get('code')}",
                    markup=False,
                )
                continue
            try:
                retried = client.retry(job["id"])
                console.print(f"{retried['id']} {retried['status']}", markup=False)
            except ApiError as exc:
                errors += 1
                err.print(Text.assemble((job["id"], "red"), f" {exc.code}: {exc.message}"))
        verb = "would retry" if dry_run else "retried"
        total = len(targets) + len(skipped)
        err.print(f"{verb} {len(targets) - errors} of {total} jobs failed in the last {since}", markup=False)
        if skipped:
            err.print(skipped_text(skipped), markup=False)
        if errors:
            raise typer.Exit(EXIT_CLIENT_ERROR)


def permanent_apart(
    jobs: list[dict[str, Any]], *, include: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the jobs to retry, the permanent failures left out): a job whose `error.retryable` is false
    would fail again on the same input; `include` keeps them in."""
    if include:
        return jobs, []
    permanent = [job for job in jobs if (job.get("error") or {}).get("retryable") is False]
    return [job for job in jobs if job not in permanent], permanent


def skipped_text(skipped: list[dict[str, Any]]) -> str:
    """`skipped 3 permanent failures (unsupported_media: 2, invalid_text: 1): ...`"""
    codes: dict[str, int] = {}
    for job in skipped:
        code = str((job.get("error") or {}).get("code") or "unknown")
        codes[code] = codes.get(code, 0) + 1
    counted = ", ".join(
        f"{code}: {count}" for code, count in sorted(codes.items(), key=lambda c: (-c[1], c[0]))
    )
    noun = "failure" if len(skipped) == 1 else "failures"
    return (
        f"skipped {len(skipped)} permanent {noun} ({counted}): the same input would fail again; "
        "--include-permanent retries them too"
    )


@app.command()
def rerun(
    job_id: JobIdArg,
    from_stage: Annotated[str, typer.Option("--from", help="The first stage to run again, e.g. transcribe.")],
    option: OptionArg = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the new job until it ends.")] = False,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Run a job again from a stage, with new options; prints the new job's id.

    The new job reuses the old one's finished stages before --from (they do not run again) and runs
    the rest with these options over the old job's."""
    options = parse_options(option)
    with api_client(api_url) as client:
        job = client.rerun(client.resolve_id(job_id), from_stage, **options)
        with job_goes_on(job["id"]):
            console.print(job["id"], markup=False)
            if not wait:
                return
            job = follow(client, job["id"])
    print_outcome(job)
    if job["status"] != "succeeded":
        raise typer.Exit(EXIT_JOB_FAILED)
