"""The suite fails when a test leaves a process behind.

At the start of the session pytest becomes a child subreaper (Linux), so a process orphaned by a
test (a worker's pool child whose parent was stopped, a daemon a helper forked) re-parents to pytest
instead of PID 1. At the end of the session, after every fixture's teardown, any live child of pytest
is a leak: it is listed, killed, and the session's exit status set to failure.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest

from mediajobs.supervise import become_subreaper, live_children, reap


def start_watching() -> None:
    become_subreaper()


def check_no_leaks(session: pytest.Session) -> None:
    reap()
    leaked = live_children()
    if not leaked:
        return
    lines = [f"  {pid}: {_cmdline(pid)}" for pid in leaked]
    for pid in leaked:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    reap()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"tests left {len(leaked)} processes running (now killed):\n" + "\n".join(lines)
    if reporter is not None:
        reporter.write_line(message, red=True)
    else:
        print(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"
