"""With private sources not allowed, a download never reaches a local server."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from helpers.processes import FileServer
from helpers.settings import make_settings
from mediajobs.engines import Engines
from mediajobs.errors import ForbiddenSource
from mediajobs.stages import StageContext
from mediajobs.stages.ingest import ingest
from mediajobs.storage import LocalStorage, Workspace


def test_a_loopback_source_is_refused_before_any_request(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "talk.wav").write_bytes(b"RIFF" + b"\0" * 4096)
    settings = make_settings(tmp_path, MEDIAJOBS_ALLOW_PRIVATE_SOURCES=False)
    storage = LocalStorage(tmp_path / "storage")
    job_id = uuid.uuid4()
    with FileServer(served) as server:
        ctx = StageContext(
            job_id=job_id, stage="ingest", attempt=1, source=f"{server.url}/talk.wav", options={}, inputs={},
            work_dir=Workspace(tmp_path / "work").fresh(job_id, "ingest"), storage=storage,
            settings=settings, engines=Engines(),
        )  # fmt: skip
        with pytest.raises(ForbiddenSource) as caught:
            ingest(ctx)
        assert server.hits["/talk.wav"] == 0
    assert caught.value.code == "forbidden_source"
