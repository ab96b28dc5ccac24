"""`mediajobs up` as a user starts it: a child process with a clean environment and its own data dir."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def up_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The test process's environment without any mediajobs or Celery setting: the embedded default."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CELERY_", "MEDIAJOBS_")) and k != "REDIS_URL"
    }
    env.update(MEDIAJOBS_DATA_DIR=str(data_dir), CELERY_WORKER_CONCURRENCY="1", **extra)
    return env


@contextmanager
def mediajobs_up(tmp_path: Path, port: int, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """`mediajobs up --port <port>` with its output in `tmp_path/up.log`; stopped with SIGTERM."""
    log_path = tmp_path / "up.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mediajobs", "up", "--port", str(port)],
            env=up_env(tmp_path / "data", **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:  # the test failed before it stopped `up`: stop it the same way
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
