"""The Python client's results and downloads: JSON as a dict, audio as bytes, files written whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mediajobs.client import ApiError, Client

JOB = "0b0e2d4c-3c8a-4d61-9a43-1f6f3c1d2e5f"
AUDIO = bytes(range(256)) * 40  # not UTF-8: what made `result()` raise UnicodeDecodeError


def _client(handler: httpx.MockTransport) -> Client:
    return Client("http://mediajobs.test", api_key="k", transport=handler)


def _serving(content_type: str, body: bytes) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/api/v1/jobs/{JOB}/result"
        return httpx.Response(200, headers={"content-type": content_type}, content=body)

    return httpx.MockTransport(handler)


def test_result_is_a_dict_for_json_and_bytes_for_audio() -> None:
    with _client(_serving("application/json", b'{"text": "hola"}')) as client:
        assert client.result(JOB) == {"text": "hola"}
    with _client(_serving("audio/mpeg", AUDIO)) as client:
        assert client.result(JOB) == AUDIO
    with _client(_serving("application/problem+json; charset=utf-8", b'{"a": 1}')) as client:
        assert client.result(JOB) == {"a": 1}


def test_save_result_streams_the_file_and_names_its_type(tmp_path: Path) -> None:
    target = tmp_path / "speech.mp3"
    with _client(_serving("audio/mpeg", AUDIO)) as client:
        saved = client.save_result(JOB, target)
    assert target.read_bytes() == AUDIO
    assert (saved.path, saved.size, saved.content_type) == (target, len(AUDIO), "audio/mpeg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speech.mp3"]


def test_a_download_cut_short_leaves_no_file(tmp_path: Path) -> None:
    def chunks() -> Iterator[bytes]:
        yield AUDIO[:100]
        raise httpx.ReadError("connection reset")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "audio/wav"}, content=chunks())

    target = tmp_path / "speech.wav"
    with _client(httpx.MockTransport(handler)) as client, pytest.raises(httpx.ReadError):
        client.save_artifact(JOB, "speech.wav", target)
    assert list(tmp_path.iterdir()) == []


def test_an_error_answer_is_an_api_error_and_writes_nothing(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(409, json={"error": {"code": "job_running", "message": "not yet"}})

    with _client(httpx.MockTransport(handler)) as client, pytest.raises(ApiError) as raised:
        client.save_result(JOB, tmp_path / "out.json")
    assert (raised.value.status, raised.value.code) == (409, "job_running")
    assert list(tmp_path.iterdir()) == []


def test_download_tells_the_media_type_before_the_body_is_read() -> None:
    with _client(_serving("video/mp4", AUDIO)) as client, client.download(JOB) as download:
        assert download.content_type == "video/mp4"
        assert download.size == len(AUDIO)
        assert b"".join(download.chunks) == AUDIO


def test_delete_job_and_delete_upload_send_delete_and_raise_on_refusal() -> None:
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        if request.url.path.startswith("/api/v1/jobs/"):
            return httpx.Response(200, json={"id": JOB, "status": "deleted"})
        error = {"error": {"code": "upload_in_use", "message": "a running job reads it"}}
        return httpx.Response(409, json=error)

    with _client(httpx.MockTransport(handler)) as client:
        assert client.delete_job(JOB)["status"] == "deleted"
        with pytest.raises(ApiError) as refused:
            client.delete_upload(JOB)
    assert refused.value.code == "upload_in_use"
    assert seen == [("DELETE", f"/api/v1/jobs/{JOB}"), ("DELETE", f"/api/v1/uploads/{JOB}")]
