"""Serving metrics: what a process exposes, and how several processes add up.

One process (the API by default) exposes its own event metrics (hooks/metrics.py). Where several
processes count (a worker's prefork pool processes, `mediajobs api --workers N`), they use
prometheus-client's multiprocess mode: `use_multiprocess(folder)` points every metric of this process
and of the processes it forks or starts at files in `folder`, and a scrape adds up the files of all
of them, the dead ones' included (their counts happened). A dead process's live gauges (stages
running in it) are removed at each scrape (`mark_process_dead`), whether it exited or was killed.

    use_multiprocess(folder)      before the first metric is made (worker, multi-process API)
    ProcessMetrics()              collector: this process's events, or every process's under the folder
    render(*collectors)           the text exposition format, for the API's /metrics
    start_worker_exporter(...)    a worker main process's HTTP server on its metrics port
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from threading import Thread
from typing import Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, generate_latest, start_http_server, values
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from mediajobs.hooks.metrics import event_metrics

log = logging.getLogger(__name__)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Collector(Protocol):
    def collect(self) -> Iterable[Metric]: ...


def multiprocess_dir() -> Path | None:
    """The folder of this process's metric files, when it counts in multiprocess mode."""
    folder = os.environ.get(MULTIPROCESS_ENV)
    return Path(folder) if folder else None


def use_multiprocess(folder: Path) -> None:
    """Count this process's metrics, and those of the processes it forks or starts (they inherit the
    environment), in files under `folder`. prometheus-client chooses how values are kept when it is
    imported, from this variable; the choice is made again here, so call this before the first metric
    is made (`event_metrics()`)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROCESS_ENV] = str(folder)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def fresh_multiprocess_dir() -> Path:
    """An empty folder of this process's own for the metric files (left-over files of an earlier
    run would add their counts to this one's)."""
    return Path(tempfile.mkdtemp(prefix="mediajobs-metrics-"))


def remove_multiprocess_dir(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def mark_dead_processes(folder: Path) -> list[int]:
    """`mark_process_dead` for every process with files in `folder` that no longer runs; their pids."""
    pids = set()
    for path in folder.glob("*.db"):
        number = path.stem.rsplit("_", 1)[-1]
        if number.isdigit():
            pids.add(int(number))
    dead = [pid for pid in sorted(pids) if not _running(pid)]
    for pid in dead:
        mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]
    return dead


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    try:  # a zombie (exited, not yet reaped) runs nothing
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


class ProcessMetrics:
    """The event metrics: this process's, or in multiprocess mode every process's under the folder."""

    def collect(self) -> Iterable[Metric]:
        folder = multiprocess_dir()
        if folder is None:
            return event_metrics().registry.collect()
        mark_dead_processes(folder)
        collector = MultiProcessCollector(None, str(folder))  # type: ignore[no-untyped-call]
        families: Iterable[Metric] = collector.collect()  # type: ignore[no-untyped-call]
        return families


def scrape_registry(*collectors: Collector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return registry


def render(*collectors: Collector) -> bytes:
    """The Prometheus text exposition of `collectors`."""
    return generate_latest(scrape_registry(*collectors))


@dataclass
class WorkerExporter:
    """A worker's metrics HTTP server and the folder its pool processes count in."""

    server: WSGIServer
    thread: Thread
    folder: Path

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        remove_multiprocess_dir(self.folder)


def start_worker_exporter(host: str, port: int) -> WorkerExporter:
    """In a worker's main process, before its pool starts: count in multiprocess mode in a fresh
    folder, and serve every process's metrics at http://host:port/metrics from a thread."""
    folder = fresh_multiprocess_dir()
    use_multiprocess(folder)
    try:
        server, thread = start_http_server(port, addr=host, registry=scrape_registry(ProcessMetrics()))
    except OSError:
        remove_multiprocess_dir(folder)
        raise
    log.info("worker metrics on http://%s:%d/metrics", host, int(server.server_address[1]))
    return WorkerExporter(server=server, thread=thread, folder=folder)


__all__ = [
    "MULTIPROCESS_ENV",
    "ProcessMetrics",
    "WorkerExporter",
    "fresh_multiprocess_dir",
    "mark_dead_processes",
    "multiprocess_dir",
    "remove_multiprocess_dir",
    "render",
    "start_worker_exporter",
    "use_multiprocess",
]
