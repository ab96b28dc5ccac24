"""The `mediajobs` command as a user runs it: a subprocess against an API URL with a key, its
environment free of the test process's mediajobs settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from helpers.processes import wait_for


def cli_env(key: str, columns: int = 80) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAJOBS_")}
    env.update(MEDIAJOBS_API_KEY=key, COLUMNS=str(columns))
    return env


def run_cli(
    url: str, key: str, *args: str, cwd: Path | None = None, timeout: float = 60, columns: int = 80
) -> subprocess.CompletedProcess[str]:
    """`mediajobs <args> --api <url>`, waited for; text output."""
    return subprocess.run(
        [sys.executable, "-m", "mediajobs", *args, "--api", url],
        env=cli_env(key, columns),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def start_cli(url: str, key: str, *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    """`mediajobs <args> --api <url>` running in the background (its output read line by line)."""
    return subprocess.Popen(
        [sys.executable, "-m", "mediajobs", *args, "--api", url],
        env=cli_env(key, columns=200),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def interrupt(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str, str]:
    """Ctrl-C: SIGINT, then the exit code and what is left of stdout and stderr."""
    proc.send_signal(signal.SIGINT)
    try:
        out, errors = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return proc.returncode, out, errors


def read_until(proc: subprocess.Popen[str], needle: str, timeout: float = 60) -> list[str]:
    """Lines of the process's stdout up to and including the first that holds `needle`."""
    assert proc.stdout is not None
    lines: list[str] = []

    def found() -> bool:
        line = proc.stdout.readline() if proc.stdout is not None else ""
        if not line and proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before printing {needle!r}: {lines}")
        lines.append(line)
        return needle in line

    wait_for(found, timeout=timeout, interval=0, message=f"a line with {needle!r}")
    return lines
