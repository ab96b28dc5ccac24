"""Log lines (logconfig.py, hooks/logs.py): JSON off a terminal, text on one, overridable; a stage's
fields on its own lines and on every other line its thread logs while it runs."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest

from mediajobs.domain import ErrorInfo
from mediajobs.hooks import JobFinished, LoggingHooks, StageFinished, StageInfo
from mediajobs.logconfig import configure_logging, resolve_format


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {
        name: logging.getLogger(name).level for name in ("celery.app.trace", "alembic.runtime.migration")
    }
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, value in quiet.items():
        logging.getLogger(name).setLevel(value)
    logging.captureWarnings(False)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.usefixtures("restore_logging")
def test_json_off_a_terminal_text_on_one_and_the_setting_wins() -> None:
    assert resolve_format("auto", io.StringIO()) == "json"
    assert resolve_format("auto", Terminal()) == "text"
    assert resolve_format("text", io.StringIO()) == "text"
    assert resolve_format("json", Terminal()) == "json"

    out = io.StringIO()
    assert configure_logging(role="api", stream=out) == "json"
    logging.getLogger("mediajobs.test").warning("hello %s", "there", extra={"job": "j1", "queue": "media"})
    [line] = lines(out)
    assert line["message"] == "hello there"
    assert (line["level"], line["logger"], line["role"]) == ("WARNING", "mediajobs.test", "api")
    assert (line["job"], line["queue"]) == ("j1", "media")
    assert "time" in line

    tty = Terminal()
    assert configure_logging(role="api", stream=tty) == "text"
    logging.getLogger("mediajobs.test").warning("readable")
    assert tty.getvalue().rstrip().endswith("WARNING mediajobs.test: readable")
    assert len(logging.getLogger().handlers) == 1  # configuring again replaced the handler


@pytest.mark.usefixtures("restore_logging")
def test_celery_and_alembic_chatter_is_left_to_debug() -> None:
    out = io.StringIO()
    configure_logging(role="worker", stream=out, level="info")
    logging.getLogger("celery.app.trace").info("Task mediajobs.run_stage[x] succeeded in 0.01s")
    logging.getLogger("alembic.runtime.migration").info("Context impl PostgresqlImpl.")
    assert out.getvalue() == ""
    configure_logging(role="worker", stream=out, level="debug")
    logging.getLogger("celery.app.trace").info("Task mediajobs.run_stage[x] succeeded in 0.01s")
    assert "succeeded in" in out.getvalue()


@pytest.mark.usefixtures("restore_logging")
def test_a_stage_logs_two_lines_with_its_fields_and_lends_them_to_its_threads_other_lines() -> None:
    out = io.StringIO()
    configure_logging(role="worker", stream=out)
    hooks, job_id = LoggingHooks(), uuid.uuid4()
    info = StageInfo(
        job_id=job_id,
        pipeline="transcribe",
        stage="normalize",
        kind="media",
        attempt=2,
        worker="host:1:abc/7",
        lane="express",
        queue="express.media",
        owner_id="u1",
    )
    hooks.stage_started(info)
    logging.getLogger("mediajobs.engines").warning("ffmpeg said something")
    hooks.stage_finished(
        StageFinished(stage=info, outcome="retry", seconds=1.25, error=ErrorInfo(code="x", message="y"))
    )
    logging.getLogger("mediajobs.other").info("after the stage")
    hooks.job_finished(
        JobFinished(job_id=job_id, owner_id="u1", pipeline="transcribe", status="failed", seconds=9.5)
    )

    started, engine, ended, after, job = lines(out)
    for line in (started, engine, ended):
        assert line["job"] == str(job_id)
        assert (line["stage"], line["attempt"], line["worker"], line["user"]) == (
            "normalize",
            2,
            "host:1:abc/7",
            "u1",
        )
        assert (line["queue"], line["pipeline"], line["lane"]) == ("express.media", "transcribe", "express")
    assert (ended["duration"], ended["outcome"]) == (1.25, "retry")
    assert "stage" not in after  # the context ends with the stage
    assert (job["job"], job["outcome"], job["duration"], job["user"]) == (str(job_id), "failed", 9.5, "u1")
