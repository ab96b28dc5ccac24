"""Requests a fuzzer or a careless client sends: each gets the JSON error body and a 4xx, none a 500,
and none leaves a file or a row behind."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from helpers.auth import authorize
from helpers.clock import FakeClock
from helpers.progress import run_job, submit
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.engines import Engines
from mediajobs.housekeeping import Housekeeping
from mediajobs.pipelines import shipped_pipelines
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.store import JobStore, create_db_engine
from mediajobs.wiring import Services, build_services

JOBS = "/api/v1/jobs"
UPLOADS = "/api/v1/uploads"


@pytest.fixture
def services(tmp_path: Path, sqlite_url: str) -> Iterator[Services]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_UPLOAD_MAX_BYTES=4096)
    built = build_services(settings, InMemoryPublisher(), engines=Engines())
    yield built
    built.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    app = create_app(services.settings, services=services, maintenance=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield authorize(test_client, services.store)


def error_of(response: Any, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    error: dict[str, str] = body["error"]
    return error


def stored_files(services: Services) -> list[str]:
    root = services.settings.resolved_storage_dir
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]


# -- integers that do not fit -------------------------------------------------------------------


@pytest.mark.parametrize("value", [str(2**31), str(2**63), "9" * 40, "-1", "1e3", "0x10"])
def test_job_events_refuse_a_last_event_id_that_cannot_be_a_seq(
    client: TestClient, services: Services, value: str
) -> None:
    job_id = submit(services.store).id
    assert error_of(client.get(f"{JOBS}/{job_id}/events", headers={"Last-Event-ID": value}), 422)
    assert error_of(client.get(f"{JOBS}/{job_id}/events?last_event_id={value}"), 422)


def test_user_events_take_64_bit_ids_and_no_more(client: TestClient) -> None:
    assert error_of(client.get("/api/v1/events", headers={"Last-Event-ID": str(2**63)}), 422)
    assert error_of(client.get(f"/api/v1/events?last_event_id={2**63}"), 422)


def test_the_largest_seq_is_a_valid_resume_point(client: TestClient, services: Services) -> None:
    job = submit(services.store)
    run_job(services.store, job.id)
    response = client.get(f"{JOBS}/{job.id}/events", headers={"Last-Event-ID": str(2**31 - 1)})
    assert response.status_code == 204


def test_websocket_refuses_an_oversized_last_event_id(client: TestClient, services: Services) -> None:
    job_id = submit(services.store).id
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect(f"{JOBS}/{job_id}/ws?last_event_id={2**31}") as ws,
    ):
        ws.receive_text()
    assert closed.value.code == 1008


def _cursor(stamp: str) -> str:
    return base64.urlsafe_b64encode(f"{stamp}|{uuid.uuid4()}".encode()).decode().rstrip("=")


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"])
def test_a_cursor_whose_time_does_not_fit_is_422(client: TestClient, stamp: str) -> None:
    """In UTC these are before year 1 or after 9999: the datetime overflowed into a 500."""
    assert error_of(client.get(f"{JOBS}?cursor={_cursor(stamp)}"), 422)["code"] == "invalid_cursor"


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00"])
def test_a_cursor_at_the_ends_of_time_is_a_cursor(client: TestClient, services: Services, stamp: str) -> None:
    job = submit(services.store)
    found = client.get(f"{JOBS}?cursor={_cursor(stamp)}")
    assert found.status_code == 200, found.text
    assert [j["id"] for j in found.json()["jobs"]] == ([] if stamp.startswith("0001") else [str(job.id)])


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("TRACE", "/healthz", "GET"),
        ("PUT", JOBS, "GET, POST"),  # two routes share the path: both are named
        ("PUT", f"{JOBS}/{uuid.UUID(int=1)}", "DELETE, GET"),
        ("GET", f"{JOBS}/{uuid.UUID(int=1)}/cancel", "POST"),
    ],
)
def test_an_unsupported_method_is_405_with_allow(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path)
    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert response.headers["allow"] == allowed


# -- NUL and other control characters -----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [f"{JOBS}?pipeline=a%00b", f"{JOBS}?cursor=%00", f"{JOBS}?pipeline=%1b%5b31m", "/api/v1/events?x=%7f"],
)
def test_control_characters_in_a_query_are_refused(client: TestClient, url: str) -> None:
    assert error_of(client.get(url), 400)["code"] == "invalid_characters"


def test_nul_in_an_artifact_name_is_refused(client: TestClient, services: Services) -> None:
    job_id = submit(services.store).id
    assert error_of(client.get(f"{JOBS}/{job_id}/artifacts/transcript%00.srt"), 400)


def test_nul_in_a_header_is_refused(client: TestClient) -> None:
    body = {"pipeline": "transcribe", "source": "https://example.com/a.mp3"}
    assert error_of(client.post(JOBS, json=body, headers={"Idempotency-Key": "a\x00b"}), 400)


@pytest.mark.parametrize(
    "body",
    [
        {"pipeline": "transcribe", "source": "https://example.com/a\u0000.mp3"},
        {"pipeline": "trans\u0000cribe", "source": "https://example.com/a.mp3"},
        {"pipeline": "transcribe", "source": "https://example.com/a.mp3", "options": {"language": "e\u0000"}},
        {"pipeline": "transcribe", "source": "https://example.com/a.mp3", "options": {"x\u0000": 1}},
    ],
)
def test_nul_in_a_json_submit_is_refused(
    client: TestClient, services: Services, body: dict[str, Any]
) -> None:
    assert error_of(client.post(JOBS, json=body), 422)
    assert services.store.jobs.list_jobs(owner_id="local", limit=10).jobs == ()


BOUNDARY = "b0undary"
FORM = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


def raw_form(*parts: tuple[str, bytes]) -> bytes:
    """A multipart body written by hand (clients refuse to send the broken ones)."""
    body = b"".join(
        f"--{BOUNDARY}\r\n{headers}\r\n\r\n".encode("latin-1") + data + b"\r\n" for headers, data in parts
    )
    return body + f"--{BOUNDARY}--\r\n".encode()


FILE_HEADERS = 'Content-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav'


def test_nul_in_a_part_header_leaves_no_file(client: TestClient, services: Services) -> None:
    body = raw_form((FILE_HEADERS + "\x00evil", b"RIFF fake audio"))
    for url in (JOBS, UPLOADS):
        assert error_of(client.post(url, content=body, headers=FORM), 422)["code"] == "invalid_characters"
    assert stored_files(services) == []


# -- bounds on what a body may hold -------------------------------------------------------------


def test_deeply_nested_multipart_options_are_refused(client: TestClient, services: Services) -> None:
    options = "[" * 100_000 + "]" * 100_000
    files = {"file": ("talk.wav", b"RIFF fake audio", "audio/wav")}
    response = client.post(JOBS, data={"options": options}, files=files)
    assert error_of(response, 413 if len(options) > 64 * 1024 else 422)
    response = client.post(JOBS, data={"options": "[" * 5000 + "]" * 5000}, files=files)
    assert "deeper" in error_of(response, 422)["message"]
    assert stored_files(services) == []


def test_deeply_nested_json_options_are_refused(client: TestClient) -> None:
    raw = (
        '{"pipeline": "transcribe", "source": "https://e.com/a", "options": {"a": '
        + "[" * 5000
        + "]" * 5000
        + "}}"
    )
    response = client.post(JOBS, content=raw, headers={"content-type": "application/json"})
    assert error_of(response, 422)


def test_many_unknown_options_answer_a_short_error(client: TestClient) -> None:
    options = {f"key{n}": n for n in range(50_000)}
    body = {"pipeline": "transcribe", "source": "https://example.com/a.mp3", "options": options}
    response = client.post(JOBS, json=body)
    error = error_of(response, 422)
    assert len(response.content) < 1000
    assert "50000 keys" in error["message"]
    assert "'key0', 'key1', 'key2', ..." in error["message"]


def test_a_json_body_over_a_mebibyte_is_refused_unread(client: TestClient) -> None:
    body = json.dumps({"pipeline": "transcribe", "source": "https://e.com/a", "options": {"a": "x" * 2**21}})
    assert error_of(client.post(JOBS, content=body, headers={"content-type": "application/json"}), 413)


def test_a_multipart_body_announcing_more_than_the_limit_is_refused_unread(client: TestClient) -> None:
    headers = {"content-type": "multipart/form-data; boundary=x", "content-length": str(800 * 2**20)}
    for url in (JOBS, UPLOADS):
        assert error_of(client.post(url, content=b"--x--\r\n", headers=headers), 413)


def test_malformed_multipart_is_a_400(client: TestClient, services: Services) -> None:
    headers = {"content-type": "multipart/form-data; boundary=x"}
    assert error_of(client.post(UPLOADS, content=b"--x\r\nnot a header\r\n\r\n", headers=headers), 400)
    assert error_of(
        client.post(UPLOADS, content=b"garbage", headers={"content-type": "multipart/form-data"}), 400
    )
    assert stored_files(services) == []


def test_two_file_parts_are_refused_and_neither_is_kept(client: TestClient, services: Services) -> None:
    files = [("file", ("a.wav", b"RIFF a", "audio/wav")), ("file", ("b.wav", b"RIFF b", "audio/wav"))]
    assert error_of(client.post(JOBS, files=files), 422)["code"] == "too_many_files"
    assert stored_files(services) == []


def test_options_after_the_file_are_checked_and_the_file_dropped(
    client: TestClient, services: Services
) -> None:
    body = raw_form(
        (FILE_HEADERS, b"RIFF fake audio"), ('Content-Disposition: form-data; name="options"', b'{"no": 1}')
    )
    response = client.post(JOBS, content=body, headers=FORM)
    assert error_of(response, 422)["code"] == "invalid_options"
    assert stored_files(services) == []
    assert services.store.jobs.list_jobs(owner_id="local", limit=10).jobs == ()


# -- sources ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source", ["https://user:pw@example.com/a.mp3", "http://token@example.com/a", "http://:x@e.com/"]
)
def test_credentials_in_a_source_url_are_refused_and_not_echoed(client: TestClient, source: str) -> None:
    error = error_of(client.post(JOBS, json={"pipeline": "transcribe", "source": source}), 422)
    assert error["code"] == "credentials_in_source"
    assert "pw" not in error["message"]
    assert "token" not in error["message"]


@pytest.mark.parametrize("host", ["[64:ff9b::7f00:1]", "[2002:7f00:1::1]", "[::ffff:10.0.0.1]", "2130706433"])
def test_private_addresses_in_disguise_are_refused_at_submit(
    tmp_path: Path, sqlite_url: str, host: str
) -> None:
    settings = make_settings(
        tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_ALLOW_PRIVATE_SOURCES=False
    )
    built = build_services(settings, InMemoryPublisher(), engines=Engines())
    try:
        with TestClient(create_app(settings, services=built, maintenance=False)) as client:
            authorize(client, built.store)
            response = client.post(JOBS, json={"pipeline": "transcribe", "source": f"http://{host}/a.mp3"})
            assert error_of(response, 422)["code"] == "forbidden_source"
    finally:
        built.close()


# -- uploads no job uses ------------------------------------------------------------------------


def test_a_replayed_multipart_submit_keeps_one_upload(client: TestClient, services: Services) -> None:
    files = {"file": ("talk.wav", b"RIFF fake audio", "audio/wav")}
    first = client.post(JOBS, files=files, headers={"Idempotency-Key": "once"})
    again = client.post(JOBS, files=files, headers={"Idempotency-Key": "once"})
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(stored_files(services)) == 1


def test_a_refused_multipart_submit_keeps_no_upload(client: TestClient, services: Services) -> None:
    files = {"file": ("talk.wav", b"RIFF fake audio", "audio/wav")}
    client.post(JOBS, files=files, headers={"Idempotency-Key": "k"})
    other = {"file": ("talk.wav", b"RIFF other audio", "audio/wav")}
    assert error_of(client.post(JOBS, files=other, headers={"Idempotency-Key": "k"}), 409)
    assert len(stored_files(services)) == 1


def test_the_daily_cleanup_removes_only_uploads_no_job_names(tmp_path: Path, sqlite_url: str) -> None:
    clock = FakeClock(datetime.now(UTC))
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url)
    engine = create_db_engine(sqlite_url)
    services = build_services(settings, InMemoryPublisher(), engines=Engines())
    store = JobStore(engine, clock=clock, pipelines=shipped_pipelines(noop=True))
    try:
        with TestClient(create_app(settings, services=services, maintenance=False)) as client:
            authorize(client, services.store)
            used = client.post(UPLOADS, files={"file": ("a.wav", b"RIFF a", "audio/wav")}).json()
            unused = client.post(UPLOADS, files={"file": ("b.wav", b"RIFF b", "audio/wav")}).json()
            late = client.post(UPLOADS, files={"file": ("c.wav", b"RIFF c", "audio/wav")}).json()
            client.post(JOBS, json={"pipeline": "transcribe", "source": used["source"]})
            clock.advance(settings.orphan_upload_grace_seconds + 60)
            # the cleanup lists `late` as unused; a job names it before the row is removed
            cutoff = clock() - timedelta(seconds=settings.orphan_upload_grace_seconds)
            listed = {str(o.upload_id) for o in store.periodic.orphan_uploads(cutoff)}
            assert listed == {unused["id"], late["id"]}
            client.post(JOBS, json={"pipeline": "transcribe", "source": late["source"]})
            assert not store.periodic.forget_upload(uuid.UUID(late["id"]))
        did = Housekeeping(store, services.storage, services.workspace, settings).run("cleanup")
        assert did is not None
        assert did["orphan_uploads_removed"] == 1
        kept = sorted(f.key.split("/")[1] for f in services.storage.list("uploads/"))
        assert kept == sorted([used["id"], late["id"]])
    finally:
        services.close()
        engine.dispose()
