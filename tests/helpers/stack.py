"""A running mediajobs under test: settings, API client, store, worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from helpers.auth import authorize
from helpers.processes import WorkerProcess, wait_for
from mediajobs.api.app import create_app
from mediajobs.pipelines import shipped_pipelines
from mediajobs.settings import Settings
from mediajobs.store import JobStore, create_db_engine

TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass
class Stack:
    settings: Settings
    api: TestClient
    store: JobStore
    tmp_path: Path
    workers: list[WorkerProcess]

    def worker(self, **kwargs: Any) -> WorkerProcess:
        log = self.tmp_path / f"worker-{len(self.workers)}.log"
        worker = WorkerProcess(self.settings, log, **kwargs)
        self.workers.append(worker)
        return worker.start()

    def submit_file(self, path: Path, content_type: str = "application/octet-stream") -> str:
        """A multipart submit of `path`; the new job's id."""
        with path.open("rb") as fh:
            response = self.api.post("/api/v1/jobs", files={"file": (path.name, fh, content_type)})
        assert response.status_code == 202, response.text
        job_id: str = response.json()["id"]
        return job_id

    def wait_job(
        self, job_id: str, *, timeout: float = 120, status: tuple[str, ...] = TERMINAL
    ) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            job: dict[str, Any] = self.api.get(f"/api/v1/jobs/{job_id}").json()
            return job if job["status"] in status else None

        try:
            return wait_for(done, timeout=timeout, interval=0.2, message=f"job {job_id} in {status}")  # type: ignore[return-value]
        except TimeoutError:
            logs = "\n".join(w.log()[-3000:] for w in self.workers)
            raise TimeoutError(f"job {job_id} did not reach {status}; worker logs:\n{logs}") from None


@contextmanager
def open_stack(settings: Settings, tmp_path: Path) -> Iterator[Stack]:
    """The API (in-process, with its maintenance thread) on `settings`; workers started on demand."""
    assert settings.database_url is not None
    engine = create_db_engine(settings.database_url)
    stack = Stack(
        settings=settings,
        api=TestClient(create_app(settings)),
        store=JobStore(engine, pipelines=shipped_pipelines(noop=True)),
        tmp_path=tmp_path,
        workers=[],
    )
    try:
        with stack.api:
            authorize(stack.api, stack.store)
            try:
                yield stack
            finally:
                for worker in stack.workers:
                    worker.stop()
    finally:
        engine.dispose()
