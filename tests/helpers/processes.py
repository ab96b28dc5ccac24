"""Processes in tests: polling with a deadline, real mediajobs workers, a file server, a process
started and waited for until it serves, and looking at live processes through /proc (to prove
that a stopped stage left no subprocess behind)."""

from __future__ import annotations

import http.server
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
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
        exclude: list[str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        plugins: str | None = None,
        wrap: Sequence[str] = (),
    ) -> None:
        self.wrap = list(wrap)  # a command the worker runs under: `ip netns exec <name>`
        self.plugins = plugins  # MEDIAJOBS_PLUGINS of the tests' own (helpers.graphs), from tests/
        self.settings = settings
        self.log_path = log_path
        self.concurrency = concurrency
        self.queues = queues
        self.exclude = exclude
        self.extra_env = dict(extra_env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def start(self, *, ready_timeout: float = 60) -> WorkerProcess:
        env = settings_env(self.settings)
        env.update(self.extra_env)
        env["CELERY_LOG_LEVEL"] = "info"
        argv = [*self.wrap, sys.executable, "-m", "mediajobs", "worker", "-c", str(self.concurrency)]
        if self.plugins is not None:
            env["MEDIAJOBS_PLUGINS"] = self.plugins
            tests_dir = str(Path(__file__).resolve().parent.parent)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (tests_dir, env.get("PYTHONPATH")) if p)
        if self.queues:
            argv += ["-Q", ",".join(self.queues)]
        if self.exclude:
            argv += ["-X", ",".join(self.exclude)]
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


# -- starting a server and waiting until it serves --------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_ready(url: str) -> bool:
    """True once `url` answers 200."""
    import httpx

    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_serving(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], *, timeout: float, log: Path | None = None
) -> None:
    """Wait until `ready()` holds; fail at once (with the log's end) if the process exits first."""

    def up() -> bool:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"process exited with {proc.returncode} before serving:\n{tail}")
        return ready()

    wait_for(up, timeout=timeout, interval=0.2, message="server ready")


# -- live processes, through /proc --------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, str, int] | None:
    """(command name, state, parent pid) of a process, or None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    state, ppid = raw[raw.rindex(")") + 2 :].split()[:2]
    return name, state, int(ppid)


def children(name: str, parent: int | None = None) -> list[int]:
    """Live (non-zombie) child processes of `parent` (default: this process) called `name`."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        info = _stat(int(entry.name))
        if info is not None and info[0] == name and info[2] == parent and info[1] != "Z":
            found.append(int(entry.name))
    return found


def is_running(pid: int) -> bool:
    """True while the process exists and is not a zombie (a zombie no longer runs)."""
    info = _stat(pid)
    return info is not None and info[1] != "Z"


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` seconds for `pid` to exit; True when it did.

    A pidfd becomes readable when the process exits, so this waits on the event itself (no polling).
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        if not is_running(pid):
            return True
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable) or not is_running(pid)
    finally:
        os.close(fd)


def descendants_running(root: int, marker: str) -> list[int]:
    """Live processes below `root` whose command line contains `marker`."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            info = _stat(int(entry.name))
            if info is not None and info[1] != "Z":
                parents[int(entry.name)] = info[2]
    found = []
    for pid in parents:
        ancestor = parents.get(pid)
        while ancestor is not None and ancestor != root and ancestor > 1:
            ancestor = parents.get(ancestor)
        if ancestor != root:
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except FileNotFoundError:
            continue
        if marker in cmdline:
            found.append(pid)
    return found
