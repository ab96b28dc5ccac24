"""The OpenAI-compatible routes without a worker (SQLite, in-memory broker): OpenAI's error shape on
/v1 only, the 202 past MEDIAJOBS_SYNC_WAIT_SECONDS, and how OpenAI's names map onto ours. The whole
path with the official client and real engines: tests/acceptance/test_openai_api.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers.auth import authorize
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.api.errors import openai_error_type
from mediajobs.api.openai_schemas import (
    TranscriptionForm,
    speech_engine,
    speech_rate,
    speech_voice,
    stt_model,
)
from mediajobs.api.routes.openai_audio import verbose
from mediajobs.engines import Engines
from mediajobs.engines.catalog import ModelCatalog
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.wiring import Services, build_services

WAIT = 0.3


@pytest.fixture
def services(tmp_path: Path, sqlite_url: str) -> Iterator[Services]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_SYNC_WAIT_SECONDS=WAIT)
    built = build_services(settings, InMemoryPublisher(), engines=Engines())
    yield built
    built.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    app = create_app(services.settings, services=services, maintenance=False)
    with TestClient(app) as test_client:
        yield authorize(test_client, services.store)


def openai_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error


def transcribe(client: TestClient, **fields: str) -> Any:
    return client.post(
        "/v1/audio/transcriptions",
        files={"file": ("talk.wav", b"RIFF not really audio", "audio/wav")},
        data={"model": "whisper-1", **fields},
    )


def test_errors_on_v1_take_openais_shape_and_the_rest_keep_ours(client: TestClient) -> None:
    too_long = openai_error(
        client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": "a" * 4097}), 422
    )
    assert (too_long["param"], too_long["type"], too_long["code"]) == (
        "input",
        "invalid_request_error",
        "validation_error",
    )
    bad_format = openai_error(transcribe(client, response_format="docx"), 422)
    assert bad_format["param"] == "response_format"
    unknown = openai_error(
        client.post("/v1/audio/speech", json={"model": "dall-e-3", "voice": "alloy", "input": "hi"}), 422
    )
    assert unknown["code"] == "unknown_model"
    missing = openai_error(client.get("/v1/nothing-here"), 404)
    assert missing["type"] == "not_found_error"
    no_key = openai_error(client.get("/v1/models", headers={"Authorization": "Bearer mj_nope"}), 401)
    assert no_key["type"] == "authentication_error"
    # the job API keeps its own shape
    ours = client.get("/api/v1/jobs/nope").json()
    assert set(ours["error"]) == {"code", "message"}


def test_a_job_that_outlasts_the_sync_wait_is_answered_202_with_its_links(
    client: TestClient, services: Services
) -> None:
    # no worker runs here: the job waits in the broker and the route gives up after WAIT seconds
    response = transcribe(client)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued"
    assert body["links"]["self"] == f"/api/v1/jobs/{body['id']}"
    assert response.headers["location"] == body["links"]["self"]
    assert "preference-applied" not in response.headers
    job = client.get(body["links"]["self"]).json()
    assert job["options"]["model"] == "tiny.en"  # whisper-1: the default model
    asked = transcribe(client, response_format="verbose_json", **{"timestamp_granularities[]": "word"})
    assert asked.status_code == 202
    options = client.get(asked.json()["links"]["self"]).json()["options"]
    assert options["word_timestamps"] is True
    assert options["segment_details"] is True


def test_prefer_respond_async_answers_at_once(client: TestClient) -> None:
    response = client.post(
        "/v1/audio/speech",
        json={"model": "tts-1-hd", "voice": "echo", "input": "Hello.", "response_format": "aac", "speed": 2},
        headers={"Prefer": "wait=10, respond-async"},
    )
    assert response.status_code == 202, response.text
    assert response.headers["preference-applied"] == "respond-async"
    job = client.get(response.json()["links"]["self"]).json()
    assert job["pipeline"] == "synthesize"
    assert (
        job["options"] | {"engine": "flite", "voice": "awb", "rate": 320, "format": "aac"} == job["options"]
    )


def test_models_list_openais_names_and_ours(client: TestClient) -> None:
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert {"whisper-1", "tiny.en", "base", "tts-1", "tts-1-hd", "espeak-ng", "flite"} <= set(ids)
    assert all(m["object"] == "model" for m in body["data"])


def test_whisper_1_is_the_default_model_or_the_smallest_that_can(services: Services) -> None:
    catalog = ModelCatalog(services.settings)
    assert stt_model(catalog, "whisper-1", "transcribe", None) == "tiny.en"
    assert stt_model(catalog, "whisper-1", "transcribe", "en") == "tiny.en"
    assert stt_model(catalog, "whisper-1", "transcribe", "es") == "base"
    assert stt_model(catalog, "whisper-1", "translate", None) == "base"
    assert stt_model(catalog, "base", "transcribe", None) == "base"  # our own names as they are


def test_openai_voices_speeds_and_models_map_to_ours() -> None:
    assert speech_engine("tts-1") == "espeak-ng"
    assert speech_engine("flite") == "flite"
    assert speech_engine("dall-e-3") is None
    assert speech_voice("espeak-ng", "alloy") == ("en-us", "en-us")
    assert speech_voice("espeak-ng", "nova") == ("en-us", "en-us+f2")
    assert speech_voice("espeak-ng", "es") == ("es", "es")  # the engine's own voice names its language
    assert speech_voice("flite", "fable") == ("en", "rms")
    assert [speech_rate(s) for s in (0.25, 1.0, 1.5, 4.0)] == [80, 160, 240, 450]
    assert openai_error_type(429, "quota_exceeded") == "insufficient_quota"
    assert openai_error_type(429, "rate_limited") == "rate_limit_error"
    assert openai_error_type(503, "unavailable") == "server_error"


def test_verbose_json_has_openais_segment_fields_and_words_when_asked() -> None:
    document = {
        "text": "Hello there. Bye.",
        "language": "en",
        "duration": 3.2,
        "segments": [
            {
                "id": 1,
                "start": 0.0,
                "end": 1.2,
                "text": "Hello there.",
                "seek": 0,
                "tokens": [50364, 2425],
                "temperature": 0.0,
                "avg_logprob": -0.25,
                "compression_ratio": 0.8,
                "no_speech_prob": 0.01,
                "words": [
                    {"start": 0.0, "end": 0.5, "word": "Hello", "probability": 0.9},
                    {"start": 0.5, "end": 1.2, "word": "there.", "probability": 0.8},
                ],
            },
            {"id": 2, "start": 2.0, "end": 3.0, "text": "Bye.", "seek": 0, "tokens": [1], "temperature": 0.2,
             "avg_logprob": -0.5, "compression_ratio": 0.5, "no_speech_prob": 0.1},
        ],
    }  # fmt: skip
    both = verbose(document, "transcribe", TranscriptionForm(timestamp_granularities=["word", "segment"]))
    assert [s.id for s in both.segments or ()] == [0, 1]
    assert both.segments is not None
    assert both.segments[1].temperature == 0.2
    assert [(w.word, w.start, w.end) for w in both.words or ()] == [("Hello", 0.0, 0.5), ("there.", 0.5, 1.2)]
    words_only = verbose(document, "transcribe", TranscriptionForm(timestamp_granularities=["word"]))
    assert words_only.segments is None
    assert words_only.words
    default = verbose(document, "transcribe", TranscriptionForm())
    assert default.segments
    assert default.words is None
    assert (default.task, default.language, default.duration) == ("transcribe", "en", 3.2)
