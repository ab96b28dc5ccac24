"""Drawing a job's progress in the terminal: one bar for the job, one per stage."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from mediajobs.client import Client
from mediajobs.domain.events import ProgressEvent

from .common import console, err


class StageBars:
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


def follow(client: Client, job_id: str) -> dict[str, Any]:
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
        bars = StageBars(progress, [stage["name"] for stage in job["stages"]])
        for event in client.subscribe_progress(job_id):
            bars.update(event)
    return client.get(job_id)


def print_outcome(job: dict[str, Any]) -> None:
    if job["status"] == "succeeded":
        console.print(Text.assemble(("succeeded", "green"), f" {job['id']}"))
    else:
        error = job.get("error") or {}
        detail = f" {job['id']}: {error.get('code')}: {error.get('message')}"
        console.print(Text.assemble((job["status"], "red"), detail))


__all__ = ["StageBars", "follow", "print_outcome"]
