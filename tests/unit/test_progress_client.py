"""The Python client's `subscribe_progress` and the CLI's `watch` / `retry` against a mock transport."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from mediajobs import cli
from mediajobs.client import ApiError, Client, StreamLost
from mediajobs.domain.events import EventType, ProgressEvent
from mediajobs.progress.sse import HEARTBEAT, encode_event, encode_retry

JOB = uuid.UUID("0b1d4b5e-2d4e-4a8f-a1f0-3c0d5f6e7a8b")
EVENTS_PATH = f"/api/v1/jobs/{JOB}/events"


def event(seq: int, *, stage: str | None = "transcribe", status: str = "running", **kw: Any) -> ProgressEvent:
    values: dict[str, Any] = dict(
        id=100 + seq,
        job_id=JOB,
        owner_id="",
        seq=seq,
        type=EventType.PROGRESS if stage else EventType.STATE,
        status=status,
        stage=stage,
        stage_status="running" if stage else None,
        stage_percent=10.0 * seq if stage else None,
        job_percent=10.0 * seq,
        file="talk.wav",
        message=f"step {seq}",
        at=datetime(2025, 3, 1, tzinfo=UTC),
    )
    values.update(kw)
    return ProgressEvent(**values)


FINAL = event(9, stage=None, status="succeeded", job_percent=100.0, message="job succeeded")


def stream(*events: ProgressEvent, retry_ms: int = 1) -> bytes:
    return encode_retry(retry_ms) + b"".join(encode_event(e, event_id=e.seq) + HEARTBEAT for e in events)


Handler = Callable[[httpx.Request], httpx.Response]


def client_with(handler: Handler) -> Client:
    return Client("http://mediajobs.test", transport=httpx.MockTransport(handler))


def test_subscribe_progress_reconnects_with_last_event_id_and_drops_repeats() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Last-Event-ID"))
        if len(seen) == 1:
            return httpx.Response(200, content=stream(event(1), event(2)))  # ends before the job does
        if len(seen) == 2:
            return httpx.Response(503, json={"error": {"code": "unavailable", "message": "restarting"}})
        return httpx.Response(200, content=stream(event(2), event(3), FINAL))

    with client_with(handler) as client:
        got = [e.seq for e in client.subscribe_progress(str(JOB), backoff_cap=0.001)]
    assert got == [1, 2, 3, 9]
    assert seen == [None, "2", "2"]


def test_subscribe_progress_resumes_after_a_cut_mid_stream() -> None:
    calls: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers.get("Last-Event-ID"))
        if len(calls) == 1:

            def cut() -> Iterator[bytes]:
                yield stream(event(1))
                raise httpx.ReadError("connection reset by peer")

            return httpx.Response(200, content=cut())
        return httpx.Response(200, content=stream(FINAL))

    with client_with(handler) as client:
        assert [e.seq for e in client.subscribe_progress(str(JOB), last_event_id=0, backoff_cap=0.001)] == [
            1,
            9,
        ]
    assert calls == ["0", "1"]


def test_subscribe_progress_ends_on_204_raises_on_404_and_gives_up_after_max_retries() -> None:
    with client_with(lambda r: httpx.Response(204)) as client:
        assert list(client.subscribe_progress(str(JOB), last_event_id=9)) == []
    not_found = httpx.Response(404, json={"error": {"code": "not_found", "message": "no job"}})
    with client_with(lambda r: not_found) as client, pytest.raises(ApiError) as error:
        list(client.subscribe_progress(str(JOB)))
    assert error.value.status == 404
    with client_with(lambda r: httpx.Response(200, content=stream(event(1)))) as client:
        got: list[int] = []

        def follow() -> None:
            got.extend(e.seq for e in client.subscribe_progress(str(JOB), max_retries=2, backoff_cap=0.001))

        with pytest.raises(StreamLost) as lost:
            follow()
    assert got == [1]
    assert lost.value.last_event_id == 1


def test_subscribe_progress_goes_past_an_earlier_end_of_a_retried_job() -> None:
    failed = event(2, stage=None, status="failed", message="job failed")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=stream(event(1), failed, event(3, status="queued"), FINAL))

    with client_with(handler) as client:
        assert [e.seq for e in client.subscribe_progress(str(JOB))] == [1, 2, 3, 9]


def test_retry_posts_to_the_retry_endpoint() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.url.path == f"/api/v1/jobs/{JOB}/retry"
        return httpx.Response(202, json={"id": str(JOB), "status": "queued"})

    with client_with(handler) as client:
        assert client.retry(str(JOB))["status"] == "queued"


def test_rerun_posts_the_stage_and_the_options() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.url.path == f"/api/v1/jobs/{JOB}/rerun"
        assert json.loads(request.content) == {"from_stage": "transcribe", "options": {"vad": True}}
        return httpx.Response(202, json={"id": "new", "status": "queued", "rerun_of": str(JOB)})

    with client_with(handler) as client:
        assert client.rerun(str(JOB), "transcribe", vad=True)["rerun_of"] == str(JOB)


# -- CLI -----------------------------------------------------------------------------------------


def job_json(job_id: uuid.UUID, *, status: str, finished_at: datetime | None = None) -> dict[str, Any]:
    return {
        "id": str(job_id),
        "status": status,
        "progress": 100.0 if status == "succeeded" else 40.0,
        "pipeline": "transcribe",
        "created_at": "2025-03-01T00:00:00+00:00",
        "finished_at": finished_at.isoformat() if finished_at else None,
        "error": {"code": "download_failed", "message": "gone"} if status == "failed" else None,
        "stages": [
            {"name": n, "status": "pending", "progress": 0.0} for n in ("ingest", "normalize", "transcribe")
        ],
    }


@pytest.fixture
def use_transport(monkeypatch: pytest.MonkeyPatch) -> Callable[[Handler], None]:
    def install(handler: Handler) -> None:
        monkeypatch.setattr(cli.common, "Client", lambda url: client_with(handler))

    return install


def test_watch_draws_stage_bars_from_events(use_transport: Callable[[Handler], None]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == EVENTS_PATH:
            undetermined = event(2, stage="normalize", stage_percent=None)
            return httpx.Response(
                200, content=stream(event(1, stage="ingest"), undetermined, event(3), FINAL)
            )
        return httpx.Response(200, json=job_json(JOB, status="succeeded"))

    use_transport(handler)
    result = CliRunner().invoke(cli.app, ["watch", str(JOB)])
    assert result.exit_code == 0, result.output
    assert "transcribe" in result.output
    assert "normalize" in result.output
    assert f"succeeded {JOB}" in result.output


def test_watch_exits_1_when_the_job_failed(use_transport: Callable[[Handler], None]) -> None:
    failed = event(4, stage=None, status="failed", message="job failed: download_failed: gone")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == EVENTS_PATH:
            return httpx.Response(200, content=stream(event(1, stage="ingest"), failed))
        return httpx.Response(200, json=job_json(JOB, status="failed"))

    use_transport(handler)
    result = CliRunner().invoke(cli.app, ["watch", str(JOB)])
    assert result.exit_code == 1
    assert "download_failed" in result.output


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("1h", 3600), ("1h30m", 5400), ("2d", 172800), ("1.5h", 5400)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert cli.parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "h", "1x", "1h 2", "-1h", "soon"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        cli.parse_duration(text)


def test_retry_failed_since_pages_the_failed_list_and_retries_only_the_window(
    use_transport: Callable[[Handler], None],
) -> None:
    now = datetime.now(UTC)
    recent = [uuid.uuid4() for _ in range(3)]
    old = uuid.uuid4()
    pages = {
        None: ([job_json(recent[0], status="failed", finished_at=now - timedelta(minutes=5))], "c1"),
        "c1": (
            [
                job_json(old, status="failed", finished_at=now - timedelta(hours=3)),
                job_json(recent[1], status="failed", finished_at=now - timedelta(minutes=50)),
            ],
            "c2",
        ),
        # created long ago, failed recently: still in the window
        "c2": ([job_json(recent[2], status="failed", finished_at=now - timedelta(minutes=1))], None),
    }
    retried: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/api/v1/jobs":
            assert request.url.params["status"] == "failed"
            jobs, cursor = pages[request.url.params.get("cursor")]
            return httpx.Response(200, json={"jobs": jobs, "next_cursor": cursor})
        job_id = request.url.path.split("/")[-2]
        assert request.method == "POST"
        assert request.url.path.endswith("/retry")
        retried.append(job_id)
        if job_id == str(recent[1]):
            return httpx.Response(409, json={"error": {"code": "conflict", "message": "already running"}})
        return httpx.Response(202, json={"id": job_id, "status": "queued"})

    use_transport(handler)
    dry = CliRunner().invoke(cli.app, ["retry", "--failed", "--since", "1h", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert retried == []
    assert all(str(j) in dry.output for j in recent)
    assert str(old) not in dry.output

    result = CliRunner().invoke(cli.app, ["retry", "--failed", "--since", "1h"])
    assert sorted(retried) == sorted(str(j) for j in recent)
    assert result.exit_code == 2  # one of them could not be retried (an error answer of the API)
    assert "retried 2 of 3" in result.output


def test_retry_needs_an_id_or_failed(use_transport: Callable[[Handler], None]) -> None:
    use_transport(lambda r: httpx.Response(202, json={"id": str(JOB), "status": "queued"}))
    assert CliRunner().invoke(cli.app, ["retry"]).exit_code == 2
    assert CliRunner().invoke(cli.app, ["retry", str(JOB), "--failed"]).exit_code == 2
    one = CliRunner().invoke(cli.app, ["retry", str(JOB)])
    assert one.exit_code == 0
    assert f"{JOB} queued" in one.output


def test_delete_command_deletes_the_job(use_transport: Callable[[Handler], None]) -> None:
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        return httpx.Response(200, json={"id": str(JOB), "status": "deleted"})

    use_transport(handler)
    result = CliRunner().invoke(cli.app, ["delete", str(JOB)])
    assert result.exit_code == 0, result.output
    assert f"{JOB} deleted" in result.output
    assert seen == [("DELETE", f"/api/v1/jobs/{JOB}")]


def test_sse_data_is_the_event_json() -> None:
    line = encode_event(FINAL, event_id=9).decode().split("\n")[2]
    assert json.loads(line.removeprefix("data: "))["status"] == "succeeded"
