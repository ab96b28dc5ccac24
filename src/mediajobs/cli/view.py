"""Drawing a job's progress in the terminal: one bar for the job, one per stage."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from mediajobs.client import Client
from mediajobs.domain.events import ProgressEvent

from .common import console, err

log = logging.getLogger(__name__)


class StageBars:
    """Rich progress bars of one job: the whole job, then one per stage, fed by progress events."""

    def __init__(self, progress: Progress, stages: list[str]) -> None:
        self.progress = progress
        self.overall = progress.add_task("job", total=100)
        self.waiting: str | None = None  # why the job waits, as last said
        self.bars: dict[str, Any] = {}
        for name in stages:
            self._bar(name)

    def _bar(self, stage: str) -> Any:
        if stage not in self.bars:
            self.bars[stage] = self.progress.add_task(f"  {stage}", total=100)
        return self.bars[stage]

    def show_waiting(self, text: str | None) -> None:
        """Say why the job waits, once each time the reason changes (a line above the bars)."""
        if text is not None and text != self.waiting:
            self.progress.console.print(escape(text))
        self.waiting = text

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


def waiting_text(job: dict[str, Any]) -> str | None:
    """Why the job waits, for people; None when it does not."""
    waiting = job.get("waiting")
    if not waiting:
        return None
    reason, queue, position = waiting.get("reason"), waiting.get("queue"), waiting.get("position")
    if reason == "no_worker":
        kind = str(queue or "").rsplit(".", 1)[-1]
        return (
            f"waiting: no worker consumes queue {queue!r}; start one (e.g. `mediajobs worker -Q {kind}`) "
            "or `mediajobs up`"
        )
    if reason == "user_concurrency":
        return f"waiting: your jobs in flight are at your tier's limit ({position} ahead of it)"
    if reason == "lane":
        return f"waiting for a free worker of queue {queue!r} (position {position} among yours)"
    if reason == "lane_paused":
        return "waiting: an operator paused this job's lane; it starts when the lane is resumed"
    return f"waiting: {reason}"


class WaitWatcher(threading.Thread):
    """While the job's events say nothing, asks every `every` seconds why it waits and shows it (a job
    whose queue no worker serves would otherwise sit silent)."""

    def __init__(self, client: Client, job_id: str, show: Callable[[str | None], None], every: float = 2.0):
        super().__init__(name="mediajobs-cli-wait", daemon=True)
        self.client, self.job_id, self.show, self.every = client, job_id, show, every
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            try:
                job = self.client.get(self.job_id)
            except Exception as exc:  # the API is away for a moment: the event stream reconnects itself
                log.debug("could not read why job %s waits: %s", self.job_id, exc)
                continue
            self.show(waiting_text(job))

    def stop(self) -> None:
        self._stop_event.set()


def follow(client: Client, job_id: str) -> dict[str, Any]:
    """Draw the job's progress from its event stream until it ends, with why it waits when it does;
    returns the final job."""
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
        bars.show_waiting(waiting_text(job))
        watcher = WaitWatcher(client, job_id, bars.show_waiting)
        watcher.start()
        try:
            for event in client.subscribe_progress(job_id):
                bars.update(event)
        finally:
            watcher.stop()
    return client.get(job_id)


def print_outcome(job: dict[str, Any], *, to: Console = console) -> None:
    if job["status"] == "succeeded":
        to.print(Text.assemble(("succeeded", "green"), f" {job['id']}"))
    else:
        error = job.get("error") or {}
        detail = f" {job['id']}: {error.get('code')}: {error.get('message')}"
        to.print(Text.assemble((job["status"], "red"), detail))


__all__ = ["StageBars", "WaitWatcher", "follow", "print_outcome", "waiting_text"]
