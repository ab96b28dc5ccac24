"""Real mediajobs processes for acceptance tests: a Celery worker subprocess and a file server."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from mediajobs.launch import settings_env
from mediajobs.settings import Settings


def wait_for(
    predicate: Callable[[], object], *, timeout: float, interval: float = 0.05, message: str = "condition"
) -> object:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{message} not reached within {timeout} s")
        time.sleep(interval)  # polling interval of a deadline-bounded wait


class WorkerProcess:
    """`python -m mediajobs worker` in its own process group, logging to a file."""

    def __init__(
        self,
        settings: Settings,
        log_path: Path,
        *,
        concurrency: int = 1,
        queues: list[str] | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.log_path = log_path
        self.concurrency = concurrency
        self.queues = queues
        self.extra_env = dict(extra_env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def start(self, *, ready_timeout: float = 60) -> WorkerProcess:
        env = settings_env(self.settings)
        env.update(self.extra_env)
        env["CELERY_LOG_LEVEL"] = "info"
        argv = [sys.executable, "-m", "mediajobs", "worker", "-c", str(self.concurrency)]
        if self.queues:
            argv += ["-Q", ",".join(self.queues)]
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for(self._ready, timeout=ready_timeout, message=f"worker ready (log {self.log_path})")
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
        return " ready." in self.log()[self._log_offset :]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children) at once."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


@contextmanager
def running_worker(settings: Settings, log_path: Path, **kwargs: object) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(settings, log_path, **kwargs)  # type: ignore[arg-type]
    try:
        yield worker.start()
    finally:
        worker.stop()


class FileServer:
    """Serves files from a folder on 127.0.0.1 and counts requests per path.

    `failures[path]` lists HTTP statuses to answer (with `Retry-After: 1`) before serving the file,
    one per request: [503, 503] fails twice, then succeeds.
    """

    def __init__(self, root: Path, failures: dict[str, list[int]] | None = None) -> None:
        self.root = root
        self.hits: Counter[str] = Counter()
        self.failures = {path: list(statuses) for path, statuses in (failures or {}).items()}
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, directory=str(outer.root), **kwargs)  # type: ignore[misc, arg-type]

            def do_GET(self) -> None:
                outer.hits[self.path] += 1
                pending = outer.failures.get(self.path)
                if pending:
                    status = pending.pop(0)
                    body = f"scripted failure {status}".encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Retry-After", "1")
                    self.end_headers()
                    self.wfile.write(body)
                    return
                super().do_GET()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
