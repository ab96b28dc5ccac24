"""The README's production commands, exactly as written there (only the database, the broker, the
data folder and the API's port are the test's own): migrate, the first admin and key, the API, the
two workers and beat as separate processes on PostgreSQL and Redis; then every shipped pipeline."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from helpers.db import admin, pg_url
from helpers.front_doors import tour_front_doors
from helpers.processes import free_port, http_ready, wait_serving
from helpers.tour import tour_every_pipeline
from mediajobs.client import Client

README = Path(__file__).resolve().parents[2] / "README.md"
ONCE = ("migrate", "users", "keys")  # the commands that run to their end; the rest serve


def production_commands() -> tuple[str, list[list[str]]]:
    """(the export line, each `mediajobs ...` command) of the README's production section."""
    section = README.read_text(encoding="utf-8").split("## Production", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    export, commands = "", []
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("export "):
            export = line
        elif line:
            commands += [shlex.split(part) for part in line.split("&&")]
    return export, commands


@contextmanager
def fresh_database() -> Iterator[str]:
    name = f"mj_prod_{uuid.uuid4().hex[:10]}"
    admin(f"CREATE DATABASE {name}")  # empty: the README's `mediajobs migrate` makes the schema
    try:
        yield pg_url(name)
    finally:
        admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_the_readme_production_commands_run_every_shipped_pipeline(tmp_path: Path, redis_url: str) -> None:
    export, commands = production_commands()
    assert "MEDIAJOBS_DATABASE_URL=" in export
    assert "CELERY_BROKER_URL=" in export
    assert all(argv[0] == "mediajobs" for argv in commands), commands
    port = free_port()
    with fresh_database() as database, ExitStack() as running:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "MEDIAJOBS_"))}
        env.update(
            MEDIAJOBS_DATABASE_URL=database,
            CELERY_BROKER_URL=redis_url,
            MEDIAJOBS_DATA_DIR=str(tmp_path / "data"),
            MEDIAJOBS_QUEUE_PREFIX=f"p{uuid.uuid4().hex[:6]}.",
        )
        key = ""
        api: tuple[subprocess.Popen[bytes], Path] | None = None
        for number, argv in enumerate(commands):
            run = [sys.executable, "-m", "mediajobs", *argv[1:]]
            if argv[1] in ONCE:
                done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120, check=False)
                assert done.returncode == 0, (argv, done.stdout, done.stderr)
                found = re.search(r"\bmj_\S+", done.stdout)
                key = found.group(0) if argv[1] == "keys" and found else key
                continue
            if argv[1] == "api":
                run += ["--port", str(port)]
            log = tmp_path / f"{number}-{argv[1]}.log"
            proc = running.enter_context(_serving(run, env, log))
            api = (proc, log) if argv[1] == "api" else api
        assert key, "`mediajobs keys create` printed no key"
        assert api is not None, "the README starts no API"
        url = f"http://127.0.0.1:{port}"
        wait_serving(api[0], lambda: http_ready(f"{url}/readyz"), timeout=90, log=api[1])
        with Client(url, api_key=key) as client:
            tour_every_pipeline(client, tmp_path)
        tour_front_doors(url, key, tmp_path)


@contextmanager
def _serving(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
