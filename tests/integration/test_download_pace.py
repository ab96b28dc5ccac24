"""A download keeps a minimum pace (issue 23, finding 15): a source that trickles a byte at a time,
always inside the idle timeout, held a download slot until the stage's hard limit on every attempt.
Against a real local server, with the default settings."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.http_server import Route, serve
from helpers.settings import make_settings
from mediajobs.errors import PermanentError
from mediajobs.registry import build_registry
from mediajobs.stages import StageContext
from mediajobs.stages.ingest import Pace, ingest
from mediajobs.storage import LocalStorage, Workspace

WAV_HEAD = b"RIFF" + b"\0" * 1020  # past the content sniff: it looks like media


def test_a_trickling_source_fails_soon_after_the_grace_period(tmp_path: Path) -> None:
    stop = threading.Event()

    def trickle() -> Iterator[bytes]:
        """The attacker's server: a byte every 0.2 s (well inside the 30 s idle timeout), for 40 s."""
        yield WAV_HEAD
        end = time.monotonic() + 40
        while time.monotonic() < end and not stop.is_set():
            stop.wait(0.2)
            yield b"\0"

    routes = {
        "/slow.wav": Route(headers=(("Content-Type", "audio/wav"),), body=trickle, content_length=False)
    }
    settings = make_settings(tmp_path, MEDIAJOBS_ALLOW_PRIVATE_SOURCES=True)
    job_id = uuid.uuid4()
    with serve(routes) as base:
        ctx = StageContext(
            job_id=job_id, stage="ingest", attempt=1, source=f"{base}/slow.wav", options={}, inputs={},
            work_dir=Workspace(tmp_path / "work").fresh(job_id, "ingest"),
            storage=LocalStorage(tmp_path / "storage"), settings=settings,
            engines=build_registry(settings).engines(),
        )  # fmt: skip
        started = time.monotonic()
        try:
            with pytest.raises(PermanentError) as caught:
                ingest(ctx)
        finally:
            stop.set()
        took = time.monotonic() - started
    assert caught.value.code == "download_too_slow", caught.value
    assert "MEDIAJOBS_DOWNLOAD_MIN_RATE" in caught.value.message
    # The default grace is 10 s; the first chunk after it is behind the pace.
    assert settings.download_grace_seconds <= took < settings.download_grace_seconds + 5
    assert list(ctx.work_dir.iterdir()) == []  # the partial file is gone


def test_the_pace_allows_a_slow_start_and_refuses_falling_behind() -> None:
    now = [0.0]
    pace = Pace(1000, 10.0, clock=lambda: now[0])
    now[0] = 9.9
    pace.check(0)  # nothing yet, inside the grace period
    now[0] = 20.0
    pace.check(10_000)  # 10 s past the grace: 10,000 bytes is exactly the pace
    with pytest.raises(PermanentError):
        pace.check(9_999)
    Pace(0, 10.0, clock=lambda: 1e9).check(0)  # 0: no minimum
