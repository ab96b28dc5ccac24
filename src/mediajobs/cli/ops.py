"""Commands for operators: inspect (what runs where, what waits, who is alive) and flower."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from mediajobs.errors import MediaJobsError
from mediajobs.settings import get_settings

from .common import DEFAULT_API, ApiUrl, api_client, app, console, fail, plain


@app.command()
def inspect(
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object: running, queues, workers.")
    ] = False,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Stages running now with their workers, queues with lengths, consumers and oldest waiting age,
    and live workers with their heartbeats (an admin's key)."""
    with api_client(api_url) as client:
        workers = client.workers()
        queues = client.queues()["queues"]
    report = {"running": workers["running"], "queues": queues, "workers": workers["workers"]}
    if as_json:
        console.print_json(json.dumps(report))
        return
    _print_report(report)


def _print_report(report: dict[str, Any]) -> None:
    running = Table("job", "stage", "attempt", "worker", "for", "progress", "queue", title="Running stages")
    for stage in report["running"]:
        worker = stage["worker"] or stage["runner"] or "?"
        running.add_row(
            plain(stage["job_id"][:8]),
            plain(f"{stage['pipeline']}/{stage['stage']}"),
            str(stage["attempt"]),
            plain(worker if stage["worker_live"] else f"{worker} (silent)"),
            _duration(stage["running_seconds"]),
            f"{stage['progress']:.0f}%",
            plain(stage["queue"]),
        )
    console.print(running if report["running"] else "no stage is running")
    queues = Table("queue", "length", "waiting", "consumers", "oldest", title="Queues")
    for queue in report["queues"]:
        consumers = len(queue["consumers"])
        queues.add_row(
            plain(queue["name"]),
            "?" if queue["length"] is None else str(queue["length"]),
            str(queue["waiting"]),
            str(consumers) if consumers or not queue["waiting"] else "[red]none[/red]",
            _duration(queue["oldest_waiting_seconds"]),
        )
    console.print(queues)
    workers = Table("worker", "queues", "slots", "running", "heartbeat", title="Workers")
    now = datetime.now(UTC)
    for worker in report["workers"]:
        seen = datetime.fromisoformat(worker["last_seen"])
        workers.add_row(
            plain(worker["id"]),
            plain(", ".join(worker["queues"])),
            str(worker["concurrency"]),
            str(worker["running"]),
            f"{_duration(max(0.0, (now - seen).total_seconds()))} ago",
        )
    console.print(workers if report["workers"] else "no live worker")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def flower(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port of Flower's web UI and API.")] = 5555,
    address: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
) -> None:
    """Run Flower (Celery's web monitor) on this deployment's broker and queues; needs the optional
    extra `mediajobs[flower]`, and MEDIAJOBS_CELERY_TASK_EVENTS=true on the workers to show tasks.
    Other options go to Flower (e.g. `--basic-auth=user:password`)."""
    from mediajobs.launch import run_flower

    try:
        code = run_flower(get_settings(), port=port, address=address, extra=ctx.args)
    except MediaJobsError as exc:
        raise fail(str(exc), code=1) from None
    if code:
        raise typer.Exit(code)
