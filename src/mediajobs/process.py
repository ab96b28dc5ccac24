"""Run an external tool (ffmpeg, ffprobe, ...) so that it can never outlive the stage that started it.

A stage may be stopped three ways while its subprocess runs: its CancelToken is set (job cancelled,
lease lost), its own `timeout` passes, or an exception is raised asynchronously in the calling thread
(Celery's SoftTimeLimitExceeded). In every case the whole process group is terminated (SIGTERM, then
SIGKILL after a grace period) and reaped before control leaves `run_process`, so no orphaned ffmpeg
keeps burning CPU or writing into a work folder that a retry is about to reuse.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mediajobs.cancel import CancelToken
from mediajobs.errors import StageTimeout

STDERR_TAIL_BYTES = 4096
POLL_SECONDS = 0.1
KILL_GRACE_SECONDS = 2.0
_READER_JOIN_SECONDS = 5.0


@dataclass(frozen=True, kw_only=True, slots=True)
class ProcessResult:
    """How a finished subprocess ended: its exit status and the end of what it wrote to stderr."""

    argv: tuple[str, ...]
    returncode: int
    stderr_tail: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class _StderrTail:
    """Keeps only the last `limit` bytes of a stream: enough for an error message, bounded in memory."""

    def __init__(self, limit: int = STDERR_TAIL_BYTES) -> None:
        self._limit = limit
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._lock = threading.Lock()

    def add(self, chunk: bytes) -> None:
        with self._lock:
            self._chunks.append(chunk)
            self._size += len(chunk)
            while self._chunks and self._size - len(self._chunks[0]) >= self._limit:
                self._size -= len(self._chunks.popleft())

    def text(self) -> str:
        with self._lock:
            data = b"".join(self._chunks)[-self._limit :]
        return data.decode("utf-8", errors="replace").strip()


def _read_stdout(
    stream: IO[bytes], on_line: Callable[[str], None] | None, failures: list[BaseException]
) -> None:
    """Feed stdout lines to the callback; a callback error is handed to the main thread, not lost."""
    try:
        for raw in stream:
            if on_line is not None and not failures:
                on_line(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
    except BaseException as exc:
        failures.append(exc)
        # Keep draining so the child never blocks on a full pipe before it is killed.
        with contextlib.suppress(OSError, ValueError):
            for _ in stream:
                pass


def _read_stderr(stream: IO[bytes], tail: _StderrTail) -> None:
    with contextlib.suppress(OSError, ValueError):
        while chunk := os.read(stream.fileno(), STDERR_TAIL_BYTES):
            tail.add(chunk)


def _terminate_group(proc: subprocess.Popen[bytes], grace: float = KILL_GRACE_SECONDS) -> None:
    """SIGTERM the child's process group, SIGKILL it if still alive after the grace period, then reap."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def bare_env(*, locale: str = "C") -> dict[str, str]:
    """An external tool's whole environment: its lookup path and a locale, nothing of the worker's
    (no database or broker URLs, no storage keys, no proxies, no home). Text tools get `C.UTF-8`."""
    return {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LC_ALL": locale}


def limit_memory(pid: int, limit: int) -> None:
    """Cap the address space of a running process (RLIMIT_AS); it may already be gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))


def _join(readers: list[threading.Thread]) -> None:
    """Wait for the pipe readers, which end at EOF once the process group is gone."""
    for reader in readers:
        if reader.is_alive():
            reader.join(_READER_JOIN_SECONDS)


def run_process(
    argv: Sequence[str],
    *,
    cancel: CancelToken,
    on_stdout_line: Callable[[str], None] | None = None,
    timeout: float | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    memory_limit: int = 0,
    kill_grace: float = KILL_GRACE_SECONDS,
) -> ProcessResult:
    """Run `argv` to completion, streaming stdout lines to `on_stdout_line`.

    Raises the token's error once `cancel` is set, StageTimeout after `timeout` seconds, and whatever
    `on_stdout_line` raised; in each case (and on any asynchronous exception) the process group is
    killed first. A non-zero exit is not an error here: the caller decides what it means.
    `memory_limit` (bytes of address space, 0: none) is set on the child right after it starts, so an
    allocation past it fails in the child instead of pushing the machine into swap. `kill_grace`:
    seconds between SIGTERM and SIGKILL when it is stopped (shorter for a tool whose output is thrown
    away anyway: ffmpeg finishing a file on SIGTERM can take longer than a cancel should).
    """
    cancel.raise_if_set()
    args = tuple(argv)
    tail = _StderrTail()
    failures: list[BaseException] = []
    proc = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        cwd=cwd,
        env=None if env is None else dict(env),
    )
    if memory_limit > 0:
        limit_memory(proc.pid, memory_limit)
    assert proc.stdout is not None
    assert proc.stderr is not None
    readers = [
        threading.Thread(
            target=_read_stdout, args=(proc.stdout, on_stdout_line, failures), daemon=True, name="proc-stdout"
        ),
        threading.Thread(target=_read_stderr, args=(proc.stderr, tail), daemon=True, name="proc-stderr"),
    ]
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        for reader in readers:
            reader.start()
        while not (cancel.is_set() or failures):
            try:
                # Returns as soon as the child exits; otherwise look at cancel/timeout every poll.
                proc.wait(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            if deadline is not None and time.monotonic() >= deadline:
                _terminate_group(proc, kill_grace)
                raise StageTimeout(f"{args[0]} ran longer than {timeout:g} s and was stopped")
        _terminate_group(proc, kill_grace)
        _join(readers)
        cancel.raise_if_set()
        if failures:
            raise failures[0]
        return ProcessResult(argv=args, returncode=proc.returncode, stderr_tail=tail.text())
    finally:
        _terminate_group(proc, kill_grace)
        _join(readers)
        proc.stdout.close()
        proc.stderr.close()
