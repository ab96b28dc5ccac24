"""The HTTP API through FastAPI's TestClient, on SQLite and the in-memory broker."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient

from helpers.auth import authorize, user_with_key
from helpers.progress import finish_with_transcript
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.engines import Engines
from mediajobs.errors import StorageUnavailable
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.storage import read_bytes
from mediajobs.store import Claim
from mediajobs.wiring import Services, build_services

JOBS = "/api/v1/jobs"
UPLOADS = "/api/v1/uploads"
UPLOAD_LIMIT = 1000


class Response(Protocol):
    """What the tests read of a TestClient response (httpx or httpx2, whichever Starlette uses)."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def content(self) -> bytes: ...

    @property
    def headers(self) -> Any: ...

    def json(self) -> Any: ...


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def services(tmp_path: Path, sqlite_url: str, publisher: InMemoryPublisher) -> Iterator[Services]:
    settings = make_settings(
        tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_UPLOAD_MAX_BYTES=UPLOAD_LIMIT
    )
    built = build_services(settings, publisher, engines=Engines())
    yield built
    built.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    app = create_app(services.settings, services=services, maintenance=False)
    with TestClient(app) as test_client:
        yield authorize(test_client, services.store)


def submit(client: TestClient, source: str = "https://example.com/talk.mp3", **body: Any) -> Response:
    return client.post(JOBS, json={"pipeline": "transcribe", "source": source, **body})


def assert_error(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def upload(client: TestClient, data: bytes = b"RIFF fake audio", name: str = "talk.wav") -> Response:
    return client.post(UPLOADS, files={"file": (name, data, "audio/wav")})


# -- submit --------------------------------------------------------------------------------------


def test_submit_json_is_accepted_and_published(client: TestClient, publisher: InMemoryPublisher) -> None:
    response = submit(client, options={"language": "en"})

    assert response.status_code == 202, response.text
    body = response.json()
    job_id = body["id"]
    uuid.UUID(job_id)
    assert body["status"] == "queued"
    assert body["links"] == {
        "self": f"{JOBS}/{job_id}",
        "result": f"{JOBS}/{job_id}/result",
        "artifacts": f"{JOBS}/{job_id}/artifacts",
        "cancel": f"{JOBS}/{job_id}/cancel",
    }
    assert response.headers["location"] == f"{JOBS}/{job_id}"
    assert "idempotent-replayed" not in response.headers
    [message] = publisher.published
    assert (str(message.job_id), message.stage) == (job_id, "ingest")
    assert message.queue.endswith("download")


def test_submitted_job_can_be_read_back(client: TestClient) -> None:
    job_id = submit(client, options={"model": "base", "language": "de", "vad": True}).json()["id"]

    response = client.get(f"{JOBS}/{job_id}")

    assert response.status_code == 200
    job = response.json()
    assert job["id"] == job_id
    assert job["pipeline"] == "transcribe"
    assert job["source"] == "https://example.com/talk.mp3"
    assert job["options"] == {
        "model": "base",
        "language": "de",
        "task": "transcribe",
        "vad": True,
        "word_timestamps": False,
        "prompt": None,
        "temperature": None,
        "segment_details": False,
        "max_line_chars": 42,
        "max_lines": 2,
        "max_cue_seconds": 7.0,
    }
    assert job["status"] == "queued"
    assert job["cancel_requested"] is False
    assert job["error"] is None
    assert [(s["name"], s["status"]) for s in job["stages"]] == [
        ("ingest", "queued"),
        ("normalize", "pending"),
        ("transcribe", "pending"),
    ]
    assert job["attempts"] == []


def test_submit_without_content_type_is_read_as_json(client: TestClient) -> None:
    payload = json.dumps({"pipeline": "transcribe", "source": "https://example.com/a.mp3"})

    response = client.post(JOBS, content=payload.encode(), headers={"content-type": ""})

    assert response.status_code == 202, response.text


def test_submit_multipart_stores_the_file_as_an_upload(
    client: TestClient, services: Services, publisher: InMemoryPublisher
) -> None:
    response = client.post(
        JOBS,
        files={"file": ("My Talk.mp3", b"ID3 fake mp3 bytes", "audio/mpeg")},
        data={"pipeline": "transcribe", "options": json.dumps({"model": "base", "language": "fr"})},
    )

    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    job = client.get(f"{JOBS}/{job_id}").json()
    assert job["source"].startswith("upload://")
    assert job["options"]["language"] == "fr"
    stored = services.store.uploads.get_upload(uuid.UUID(job["source"].removeprefix("upload://")))
    assert stored.size == len(b"ID3 fake mp3 bytes")
    assert stored.filename == "My_Talk.mp3"
    assert read_bytes(services.storage, stored.key) == b"ID3 fake mp3 bytes"
    assert [str(m.job_id) for m in publisher.published] == [job_id]


def test_submit_multipart_without_a_file_is_rejected(client: TestClient) -> None:
    response = client.post(JOBS, data={"pipeline": "transcribe"}, files={"other": ("x", b"x")})

    assert_error(response, 422, "missing_file")


def test_submit_multipart_with_bad_options_json_is_rejected(client: TestClient) -> None:
    response = client.post(
        JOBS, files={"file": ("a.mp3", b"data", "audio/mpeg")}, data={"options": "{not json"}
    )

    assert_error(response, 422, "invalid_options")


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"pipeline": "summarize"}, id="unknown-pipeline"),
        pytest.param({"options": json.dumps({"colour": "blue"})}, id="bad-options"),
    ],
)
def test_rejected_multipart_submit_stores_nothing(
    client: TestClient, services: Services, fields: dict[str, str]
) -> None:
    response = client.post(JOBS, files={"file": ("a.mp3", b"data", "audio/mpeg")}, data=fields)

    assert response.status_code == 422
    assert services.storage.list("uploads/") == []


def test_upload_then_submit_with_its_source(client: TestClient) -> None:
    made = upload(client)

    assert made.status_code == 201, made.text
    body = made.json()
    assert body["source"] == f"upload://{body['id']}"
    assert body["size"] == len(b"RIFF fake audio")
    assert body["filename"] == "talk.wav"
    assert len(body["sha256"]) == 64

    response = submit(client, source=body["source"])

    assert response.status_code == 202, response.text
    job = client.get(f"{JOBS}/{response.json()['id']}").json()
    assert job["source"] == body["source"]


def test_submit_with_an_unknown_upload_is_rejected(client: TestClient) -> None:
    response = submit(client, source=f"upload://{uuid.uuid4()}")

    assert_error(response, 422, "upload_not_found")


def test_submit_with_a_malformed_upload_id_is_rejected(client: TestClient) -> None:
    assert_error(submit(client, source="upload://not-a-uuid"), 422, "invalid_source")


def test_submit_unknown_pipeline(client: TestClient, publisher: InMemoryPublisher) -> None:
    response = client.post(JOBS, json={"pipeline": "summarize", "source": "https://example.com/a.mp3"})

    error = assert_error(response, 422, "unknown_pipeline")
    assert "transcribe" in error["message"]
    assert publisher.published == []
    assert client.get(JOBS).json()["jobs"] == []


@pytest.mark.parametrize(
    "source", ["ftp://example.com/a.mp3", "file:///etc/passwd", "javascript:alert(1)", "https://"]
)
def test_submit_bad_source(client: TestClient, source: str) -> None:
    assert_error(submit(client, source=source), 422, "invalid_source")


@pytest.mark.parametrize("options", [{"colour": "blue"}, {"language": "english"}, {"vad": "sometimes"}])
def test_submit_bad_options(client: TestClient, options: dict[str, Any]) -> None:
    assert_error(submit(client, options=options), 422, "invalid_options")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="malformed-json"),
        pytest.param(b'{"pipeline": "transcribe"}', id="missing-source"),
        pytest.param(b'{"source": "https://example.com/a.mp3"}', id="missing-pipeline"),
        pytest.param(b"[]", id="not-an-object"),
        pytest.param(
            b'{"pipeline": "transcribe", "source": "https://example.com/a.mp3", "extra": 1}',
            id="unknown-field",
        ),
        pytest.param(b"", id="empty-body"),
    ],
)
def test_submit_malformed_json_is_a_validation_error(client: TestClient, body: bytes) -> None:
    response = client.post(JOBS, content=body, headers={"content-type": "application/json"})

    assert_error(response, 422, "validation_error")


def test_submit_unsupported_content_type(client: TestClient) -> None:
    response = client.post(
        JOBS, content=b"pipeline=transcribe", headers={"content-type": "application/x-www-form-urlencoded"}
    )

    assert_error(response, 422, "unsupported_content_type")


# -- idempotency ---------------------------------------------------------------------------------


def test_idempotency_key_replay_returns_the_same_job(
    client: TestClient, publisher: InMemoryPublisher
) -> None:
    headers = {"Idempotency-Key": "order-42"}
    body = {"pipeline": "transcribe", "source": "https://example.com/a.mp3"}

    first = client.post(JOBS, json=body, headers=headers)
    again = client.post(JOBS, json=body, headers=headers)

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(publisher.published) == 1
    assert len(client.get(JOBS).json()["jobs"]) == 1


def test_idempotency_key_reused_with_another_body(client: TestClient) -> None:
    headers = {"Idempotency-Key": "order-42"}
    client.post(JOBS, json={"pipeline": "transcribe", "source": "https://example.com/a.mp3"}, headers=headers)

    response = client.post(
        JOBS, json={"pipeline": "transcribe", "source": "https://example.com/b.mp3"}, headers=headers
    )

    assert_error(response, 409, "idempotency_key_reused")


def test_blank_idempotency_key_is_rejected(client: TestClient) -> None:
    response = client.post(
        JOBS,
        json={"pipeline": "transcribe", "source": "https://example.com/a.mp3"},
        headers={"Idempotency-Key": "   "},
    )

    assert_error(response, 422, "invalid_idempotency_key")


# -- uploads -------------------------------------------------------------------------------------


def test_upload_over_the_limit_is_too_large(client: TestClient, services: Services) -> None:
    response = upload(client, data=b"x" * (UPLOAD_LIMIT + 1))

    assert_error(response, 413, "payload_too_large")
    assert services.storage.list("uploads/") == []


def test_upload_at_the_limit_is_accepted(client: TestClient) -> None:
    assert upload(client, data=b"x" * UPLOAD_LIMIT).status_code == 201


def test_multipart_submit_over_the_limit_is_too_large(client: TestClient) -> None:
    response = client.post(JOBS, files={"file": ("a.mp3", b"x" * (UPLOAD_LIMIT + 1), "audio/mpeg")})

    assert_error(response, 413, "payload_too_large")


def test_empty_upload_is_rejected(client: TestClient) -> None:
    assert_error(upload(client, data=b""), 422, "empty_upload")


def test_upload_without_a_file_is_refused(client: TestClient) -> None:
    assert_error(client.post(UPLOADS, data={"name": "x"}), 422, "unsupported_content_type")
    response = client.post(UPLOADS, data={"name": "x"}, files={"other": ("x", b"x")})
    assert_error(response, 422, "missing_file")


def test_upload_file_name_cannot_escape(client: TestClient, services: Services) -> None:
    response = upload(client, name="../../etc/passwd")

    assert response.status_code == 201
    body = response.json()
    assert body["filename"] == "passwd"
    stored = services.store.uploads.get_upload(uuid.UUID(body["id"]))
    assert stored.key == f"uploads/{stored.id}/passwd"


# -- reading -------------------------------------------------------------------------------------


@pytest.mark.parametrize("job_id", ["6f1c2a9e-3b7d-4e58-9a0c-d2e4f6a8b1c3", "not-a-uuid", "1234"])
def test_unknown_or_malformed_job_id_is_not_found(client: TestClient, job_id: str) -> None:
    assert_error(client.get(f"{JOBS}/{job_id}"), 404, "not_found")
    assert_error(client.post(f"{JOBS}/{job_id}/cancel"), 404, "not_found")
    assert_error(client.get(f"{JOBS}/{job_id}/artifacts"), 404, "not_found")


def test_list_jobs_pages_newest_first(client: TestClient) -> None:
    ids = [submit(client, source=f"https://example.com/{i}.mp3").json()["id"] for i in range(5)]

    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = client.get(JOBS, params=params)
        assert response.status_code == 200
        page = response.json()
        assert len(page["jobs"]) <= 2
        seen.extend(j["id"] for j in page["jobs"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen)) == 5
    created = [j["created_at"] for j in client.get(JOBS).json()["jobs"]]
    assert created == sorted(created, reverse=True)


def test_list_jobs_filters_by_status(client: TestClient) -> None:
    keep = submit(client).json()["id"]
    gone = submit(client).json()["id"]
    client.post(f"{JOBS}/{gone}/cancel")

    cancelled = client.get(JOBS, params={"status": "cancelled"}).json()["jobs"]
    queued = client.get(JOBS, params={"status": "queued"}).json()["jobs"]

    assert [j["id"] for j in cancelled] == [gone]
    assert [j["id"] for j in queued] == [keep]
    assert client.get(JOBS, params={"pipeline": "summarize"}).json() == {"jobs": [], "next_cursor": None}


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"status": "done"}, id="bad-status"),
        pytest.param({"limit": 0}, id="limit-zero"),
        pytest.param({"limit": 1000}, id="limit-too-big"),
        pytest.param({"limit": "many"}, id="limit-not-a-number"),
    ],
)
def test_list_jobs_bad_query(client: TestClient, params: dict[str, Any]) -> None:
    assert_error(client.get(JOBS, params=params), 422, "validation_error")


def test_list_jobs_malformed_cursor(client: TestClient) -> None:
    assert_error(client.get(JOBS, params={"cursor": "garbage"}), 422, "invalid_cursor")


# -- cancel, results, artifacts ------------------------------------------------------------------


def test_cancel_a_queued_job(client: TestClient) -> None:
    job_id = submit(client).json()["id"]

    response = client.post(f"{JOBS}/{job_id}/cancel")

    assert response.status_code == 200, response.text
    job = response.json()
    assert job["status"] == "cancelled"
    assert job["cancel_requested"] is True
    assert {s["status"] for s in job["stages"]} == {"cancelled"}
    assert client.get(f"{JOBS}/{job_id}").json()["status"] == "cancelled"

    assert_error(client.post(f"{JOBS}/{job_id}/cancel"), 409, "job_finished")


def test_result_of_an_unfinished_job_is_a_conflict(client: TestClient) -> None:
    job_id = submit(client).json()["id"]

    error = assert_error(client.get(f"{JOBS}/{job_id}/result"), 409, "job_queued")

    assert "queued" in error["message"]


def test_result_of_a_cancelled_job_says_why(client: TestClient) -> None:
    job_id = submit(client).json()["id"]
    client.post(f"{JOBS}/{job_id}/cancel")

    error = assert_error(client.get(f"{JOBS}/{job_id}/result"), 409, "job_cancelled")

    assert "cancelled" in error["message"]


def test_artifacts_of_a_new_job(client: TestClient) -> None:
    job_id = submit(client).json()["id"]

    response = client.get(f"{JOBS}/{job_id}/artifacts")

    assert response.status_code == 200
    assert response.json() == {"artifacts": []}
    assert_error(client.get(f"{JOBS}/{job_id}/artifacts/transcript.srt"), 404, "not_found")


def test_result_and_artifacts_of_a_succeeded_job(client: TestClient, services: Services) -> None:
    job_id = submit(client).json()["id"]
    transcript = b'{"language": "en", "segments": []}'
    finish_with_transcript(services, job_id, transcript)

    job = client.get(f"{JOBS}/{job_id}").json()
    result = client.get(f"{JOBS}/{job_id}/result")
    listed = client.get(f"{JOBS}/{job_id}/artifacts").json()["artifacts"]
    download = client.get(f"{JOBS}/{job_id}/artifacts/transcript.json")

    assert job["status"] == "succeeded"
    assert job["progress"] == 100.0
    assert [a["outcome"] for a in job["attempts"]] == ["succeeded"] * 3
    assert result.status_code == 200
    assert result.content == transcript
    assert result.headers["content-type"].startswith("application/json")
    assert [(a["name"], a["size"]) for a in listed] == [("transcript.json", len(transcript))]
    assert listed[0]["url"] == f"{JOBS}/{job_id}/artifacts/transcript.json"
    assert download.status_code == 200
    assert download.content == transcript
    assert "transcript.json" in download.headers["content-disposition"]
    assert_error(client.post(f"{JOBS}/{job_id}/cancel"), 409, "job_finished")


def test_cancel_a_running_job_is_requested(client: TestClient, services: Services) -> None:
    job_id = submit(client).json()["id"]
    claim = services.store.stages.claim_stage(uuid.UUID(job_id), "ingest", worker="test", lease_seconds=30)
    assert isinstance(claim, Claim)

    response = client.post(f"{JOBS}/{job_id}/cancel")

    assert response.status_code == 200
    job = response.json()
    assert job["status"] == "running"
    assert job["cancel_requested"] is True
    assert services.store.leases.renew_lease(claim, 30) is True


def test_unknown_route_uses_the_error_body(client: TestClient) -> None:
    assert_error(client.get("/api/v1/nothing"), 404, "not_found")
    assert_error(client.delete(JOBS), 405, "method_not_allowed")


# -- health and docs -----------------------------------------------------------------------------


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_with_a_reachable_broker(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok", "storage": "ok"}


def test_readyz_with_the_storage_unusable(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lost_mount() -> None:
        raise StorageUnavailable("storage folder /srv/media is missing or not writable")

    monkeypatch.setattr(services.storage, "check_ready", lost_mount)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"], body["broker"]) == ("unavailable", "ok", "ok")
    assert body["storage"] == "error: storage folder /srv/media is missing or not writable"


def test_readyz_with_the_broker_down(client: TestClient, publisher: InMemoryPublisher) -> None:
    publisher.down = True

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["broker"].startswith("error:")


def test_submit_while_the_broker_is_down_keeps_the_message(
    client: TestClient, services: Services, publisher: InMemoryPublisher
) -> None:
    publisher.down = True

    response = submit(client)

    assert response.status_code == 202
    assert publisher.published == []
    assert services.store.outbox.pending_outbox_count() == 1
    publisher.down = False
    assert services.dispatcher.dispatch_due() == 1


def test_docs_and_openapi_are_served(client: TestClient) -> None:
    docs = client.get("/docs")
    schema = client.get("/openapi.json")

    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
    assert schema.status_code == 200
    spec = schema.json()
    assert spec["info"]["title"] == "mediajobs"
    assert {"/api/v1/jobs", "/api/v1/jobs/{job_id}", "/api/v1/uploads", "/healthz", "/readyz"} <= set(
        spec["paths"]
    )
    submit_body = spec["paths"]["/api/v1/jobs"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(submit_body)


def test_private_url_sources_are_refused_unless_allowed(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(
        tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_ALLOW_PRIVATE_SOURCES=False
    )
    services = build_services(settings, InMemoryPublisher(), engines=Engines())
    with TestClient(create_app(settings, services=services, maintenance=False)) as client:
        authorize(client, services.store)
        refused = client.post(
            "/api/v1/jobs", json={"pipeline": "transcribe", "source": "http://169.254.169.254/latest"}
        )
        accepted = client.post(
            "/api/v1/jobs", json={"pipeline": "transcribe", "source": "https://example.com/a.mp3"}
        )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "forbidden_source"
    assert accepted.status_code == 202
    services.close()


def test_jobs_are_listed_by_id_prefix(client: TestClient) -> None:
    ids = [submit(client).json()["id"] for _ in range(17)]
    # 17 ids over 16 first hex digits: at least two share one
    digit = next(d for d in "0123456789abcdef" if sum(i.startswith(d) for i in ids) >= 2)
    listed = client.get(JOBS, params={"id_prefix": digit}).json()["jobs"]
    assert sorted(j["id"] for j in listed) == sorted(i for i in ids if i.startswith(digit))
    one = ids[0]
    for prefix in (one[:8], one[:13], one[:13].replace("-", ""), one.upper()[:10]):
        assert [j["id"] for j in client.get(JOBS, params={"id_prefix": prefix}).json()["jobs"]] == [one]
    assert_error(client.get(JOBS, params={"id_prefix": "xyz"}), 422, "validation_error")


def test_a_job_is_found_by_its_idempotency_key_among_the_callers_own_only(
    client: TestClient, services: Services
) -> None:
    first = client.post(
        JOBS,
        json={"pipeline": "transcribe", "source": "https://example.com/a.mp3"},
        headers={"Idempotency-Key": "watch:abc"},
    ).json()["id"]
    submit(client)
    listed = client.get(JOBS, params={"idempotency_key": "watch:abc"}).json()["jobs"]
    assert [j["id"] for j in listed] == [first]
    assert client.get(JOBS, params={"idempotency_key": "watch:other"}).json()["jobs"] == []
    # another user's job under the same key is theirs: the admin (who lists everybody's) does not see it
    _, key = user_with_key(services.store, "ann")
    theirs = client.post(
        JOBS,
        json={"pipeline": "transcribe", "source": "https://example.com/b.mp3"},
        headers={"Idempotency-Key": "watch:abc", "Authorization": f"Bearer {key}"},
    ).json()["id"]
    listed = client.get(JOBS, params={"idempotency_key": "watch:abc"}).json()["jobs"]
    assert [j["id"] for j in listed] == [first]
    as_ann = client.get(
        JOBS, params={"idempotency_key": "watch:abc"}, headers={"Authorization": f"Bearer {key}"}
    ).json()["jobs"]
    assert [j["id"] for j in as_ann] == [theirs]


def test_docs_are_served_from_the_package_with_no_external_host(client: TestClient) -> None:
    import re

    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200
        html = response.text
        assert re.findall(r"(?:https?:)?//[\w.-]+", html) == [], page  # no CDN, no font or image host
        assets = re.findall(r'(?:src|href)="(/[^"]+)"', html)
        assert assets, page
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
    assert '"validatorUrl": null' in client.get("/docs").text  # Swagger UI would call validator.swagger.io
