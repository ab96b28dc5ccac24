"""`mediajobs up`'s supervisor: it starts the API, the worker and beat as child processes, forwards
SIGTERM and SIGINT to them, and leaves nothing behind.

What systemd and container runtimes send to stop a service is SIGTERM to its main process. Each
child gets it in turn and has `grace` seconds to stop (the worker finishes or hands back its stages,
the API closes its event streams); whatever is still running then is SIGKILLed. The supervisor is a
child subreaper (Linux `PR_SET_CHILD_SUBREAPER`): a worker's pool processes, its speech-to-text
engine processes and their ffmpeg runs, orphaned when their parent dies, become its children, so it
stops and reaps those too. A child that exits on its own (a crash, a port in use) stops the others;
`run` then returns 1.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def become_subreaper() -> bool:
    """Make orphaned descendants of this process re-parent to it (Linux); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def live_children(parent: int | None = None) -> list[int]:
    """Pids of the live (non-zombie) processes whose parent is `parent` (default: this process)."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if int(ppid) == parent and state != "Z":
            found.append(int(entry.name))
    return found


def reap() -> None:
    """Collect every exited child (adopted orphans included), so none stays a zombie."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]


class Supervisor:
    """Child processes started with `start`, run until a stop signal or one of them exits."""

    def __init__(self, *, grace: float = 30.0) -> None:
        self.grace = grace
        self.children: list[Child] = []
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._signal: int | None = None

    def start(self, name: str, launch: Callable[[], subprocess.Popen[bytes]]) -> None:
        self.children.append(Child(name, launch()))

    def run(self) -> int:
        """Wait; then stop everything. 0 after a stop signal, 1 when a child exited on its own."""
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        try:
            died = self._wait()
        finally:
            for sig in STOP_SIGNALS:  # a second Ctrl-C or SIGTERM must not cut the clean-up short
                signal.signal(sig, signal.SIG_IGN)
        if died is not None:
            log.error(
                "%s exited on its own with code %s: stopping the others", died.name, died.proc.returncode
            )
        else:
            log.info("received %s: stopping", signal.Signals(self._signal or signal.SIGTERM).name)
        self.stop()
        return 0 if died is None else 1

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._signal = signum
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"x")

    def _wait(self) -> Child | None:
        fds = {os.pidfd_open(c.proc.pid): c for c in self.children}
        try:
            while self._signal is None:
                try:
                    ready, _, _ = select.select([self._wake_r, *fds], [], [])
                except InterruptedError:
                    continue
                for fd in ready:
                    if fd in fds:
                        child = fds[fd]
                        child.proc.wait()
                        return child
            return None
        finally:
            for fd in fds:
                os.close(fd)

    def stop(self) -> None:
        """SIGTERM every child, SIGKILL what outlives the grace period, then the same for adopted
        orphans (pool processes, engines), and reap them all."""
        self._terminate([c.proc.pid for c in self.children if c.proc.poll() is None], self.grace)
        for child in self.children:
            if child.proc.poll() is None:
                child.proc.wait()
        for _ in range(3):  # orphans may themselves leave orphans behind
            orphans = live_children()
            if not orphans:
                break
            log.warning("stopping %d processes left behind: %s", len(orphans), orphans)
            self._terminate(orphans, min(self.grace, 5.0))
        reap()

    def _terminate(self, pids: Sequence[int], grace: float) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        waiting = list(pids)
        while waiting:
            waiting = [pid for pid in waiting if _alive(pid)]
            if not waiting or time.monotonic() >= deadline:
                break
            time.sleep(0.05)  # polling children we signalled, bounded by the grace period
        for pid in waiting:
            log.warning("process %d did not stop within %.0f s: killing it", pid, grace)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie child is reaped here and counts as gone)."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


__all__ = ["Supervisor", "become_subreaper", "live_children", "reap"]
