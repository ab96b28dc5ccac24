"""A hook that records every event it is told, for tests of what the hooks see."""

from __future__ import annotations

from dataclasses import dataclass, field

from mediajobs.hooks import (
    Hooks,
    JobFinished,
    JobSubmitted,
    LostLease,
    MessagePublished,
    ProcessInfo,
    StageFinished,
    StageInfo,
)


@dataclass
class Recorder(Hooks):
    events: list[tuple[str, object]] = field(default_factory=list)

    def process_started(self, process: ProcessInfo) -> None:
        self.events.append(("process_started", process))

    def process_stopping(self, process: ProcessInfo) -> None:
        self.events.append(("process_stopping", process))

    def job_submitted(self, job: JobSubmitted) -> None:
        self.events.append(("job_submitted", job))

    def message_published(self, message: MessagePublished) -> None:
        self.events.append(("message_published", message))

    def stage_started(self, stage: StageInfo) -> None:
        self.events.append(("stage_started", stage))

    def stage_finished(self, finished: StageFinished) -> None:
        self.events.append(("stage_finished", finished))

    def stage_retried(self, finished: StageFinished) -> None:
        self.events.append(("stage_retried", finished))

    def lease_lost(self, lost: LostLease) -> None:
        self.events.append(("lease_lost", lost))

    def job_finished(self, job: JobFinished) -> None:
        self.events.append(("job_finished", job))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def of(self, name: str) -> list[object]:
        return [event for kind, event in self.events if kind == name]
