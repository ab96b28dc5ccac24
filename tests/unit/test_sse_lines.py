"""Server-Sent Events survive Unicode line separators inside the data (a file name can hold them)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from mediajobs.client import SseParser, sse_lines
from mediajobs.domain.events import EventType, ProgressEvent
from mediajobs.progress.sse import encode_event


def test_an_event_with_line_separators_in_its_file_name_round_trips() -> None:
    name = "talk\u2028part\u2029two\u0085.mp3"
    event = ProgressEvent(
        id=7, job_id=uuid.uuid4(), owner_id="local", seq=3, type=EventType.PROGRESS, status="running",
        stage="ingest", stage_status="running", stage_percent=40.0, job_percent=5.0, file=name,
        message="downloading", at=datetime.now(UTC),
    )  # fmt: skip
    wire = encode_event(event, event_id=event.seq).decode()
    chunks = [wire[i : i + 5] for i in range(0, len(wire), 5)]  # arbitrary network chunking
    parser = SseParser()
    messages = [m for m in (parser.feed(line) for line in sse_lines(chunks)) if m is not None and m.data]
    assert len(messages) == 1
    assert json.loads(messages[0].data)["file"] == name


def test_lines_end_at_cr_lf_and_crlf_only() -> None:
    assert list(sse_lines(["a\r", "\nb\rc\n", "d\u2028e\n"])) == ["a", "b", "c", "d\u2028e"]
