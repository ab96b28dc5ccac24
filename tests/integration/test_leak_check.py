"""The session-end check of tests/conftest.py: a suite whose test leaves a process behind fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers.processes import is_running

CONFTEST = """
from helpers.leaks import check_no_leaks, start_watching

def pytest_sessionstart(session):
    start_watching()

def pytest_sessionfinish(session):
    check_no_leaks(session)
"""

LEAKY = """
import subprocess
from pathlib import Path

def test_forks_a_daemon_and_forgets_it():
    # the shell exits at once: its `sleep` is orphaned, as a stopped worker's pool child would be
    out = subprocess.run(["sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True)
    Path("leaked.pid").write_text(out.stdout.strip())

def test_starts_a_child_and_never_waits():
    subprocess.Popen(["sleep", "301"])
"""

CLEAN = """
import subprocess

def test_waits_for_its_child():
    subprocess.run(["sleep", "0.1"], check=True)
"""


def _run_suite(folder: Path, test_source: str) -> subprocess.CompletedProcess[str]:
    folder.mkdir()
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "test_inner.py").write_text(test_source)
    tests_dir = str(Path(__file__).resolve().parent.parent)
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(p for p in (tests_dir, os.environ.get("PYTHONPATH")) if p)
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_inner.py"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_leaked_process_fails_the_suite_and_is_killed(tmp_path: Path) -> None:
    done = _run_suite(tmp_path / "leaky", LEAKY)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    assert "tests left 2 processes running (now killed)" in done.stdout
    assert "sleep 300" in done.stdout
    assert "sleep 301" in done.stdout
    leaked = int((tmp_path / "leaky" / "leaked.pid").read_text())
    assert not is_running(leaked)


def test_a_suite_that_cleans_up_passes(tmp_path: Path) -> None:
    done = _run_suite(tmp_path / "clean", CLEAN)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "left" not in done.stdout
