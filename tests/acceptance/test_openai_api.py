"""The OpenAI-compatible audio API driven by the official `openai` package, against a live server (real
uvicorn, PostgreSQL, Redis) and a real worker serving every queue: transcription in every response
format, Spanish speech translated to English, speech synthesized and transcribed back, OpenAI's error
shape, and `Prefer: respond-async`. One stack for the module (a worker's models load once)."""

from __future__ import annotations

import io
import uuid
import warnings
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import srt
import webvtt

from helpers.auth import user_with_key
from helpers.live_server import live_server
from helpers.media import SPANISH_SCRIPT, speak
from helpers.processes import WorkerProcess, wait_for
from helpers.settings import make_settings
from helpers.wer import wer
from mediajobs.api.app import create_app
from mediajobs.domain import Tier
from mediajobs.pipelines import shipped_pipelines
from mediajobs.store import JobStore, create_db_engine

CLIP_SCRIPT = "The weather today is sunny and warm. We will walk to the park after lunch.\n"
SPOKEN = "Please close the door when you leave the house. The children are playing football near the river."


@dataclass
class OpenAIStack:
    url: str
    key: str
    client: openai.OpenAI
    store: JobStore
    clip: Path
    worker: WorkerProcess

    def api(self, path: str) -> Any:
        response = httpx.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {self.key}"}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, module_pg_url: str, module_redis_url: str
) -> Iterator[OpenAIStack]:
    tmp = tmp_path_factory.mktemp("openai")
    settings = make_settings(tmp, MEDIAJOBS_DATABASE_URL=module_pg_url, CELERY_BROKER_URL=module_redis_url)
    engine = create_db_engine(module_pg_url)
    store = JobStore(engine, pipelines=shipped_pipelines())
    _, key = user_with_key(store, "openai-client", Tier.PRO)  # pro: the express lane
    worker = WorkerProcess(settings, tmp / "worker.log").start()
    try:
        with live_server(create_app(settings)) as url:
            client = openai.OpenAI(api_key=key, base_url=f"{url}/v1", timeout=120, max_retries=0)
            clip = speak(CLIP_SCRIPT, tmp / "clip.wav")
            yield OpenAIStack(url=url, key=key, client=client, store=store, clip=clip, worker=worker)
            client.close()
    finally:
        worker.stop()
        engine.dispose()


def _transcribe(stack: OpenAIStack, response_format: str, **kwargs: Any) -> Any:
    with stack.clip.open("rb") as fh:
        return stack.client.audio.transcriptions.create(
            model="whisper-1",
            file=fh,
            response_format=response_format,  # type: ignore[arg-type]
            **kwargs,
        )


def test_transcription_in_every_response_format(stack: OpenAIStack) -> None:
    as_json = _transcribe(stack, "json")
    assert wer(CLIP_SCRIPT, as_json.text) <= 0.3, as_json.text

    text = _transcribe(stack, "text")
    assert isinstance(text, str)
    assert wer(CLIP_SCRIPT, text) <= 0.3, text

    cues = list(srt.parse(_transcribe(stack, "srt")))
    assert cues
    assert all(c.start < c.end for c in cues)
    assert wer(CLIP_SCRIPT, " ".join(c.content for c in cues)) <= 0.3

    captions = webvtt.from_buffer(io.StringIO(_transcribe(stack, "vtt"))).captions
    assert captions
    assert wer(CLIP_SCRIPT, " ".join(c.text for c in captions)) <= 0.3

    words = _transcribe(stack, "verbose_json", timestamp_granularities=["word", "segment"])
    assert words.task == "transcribe"
    assert words.language == "en"
    with wave.open(str(stack.clip)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert abs(words.duration - seconds) < 0.2
    assert words.words, "word timings were asked for"
    assert [w.start for w in words.words] == sorted(w.start for w in words.words)
    assert all(0 <= w.start <= w.end <= seconds + 0.01 for w in words.words)
    assert wer(CLIP_SCRIPT, " ".join(w.word for w in words.words)) <= 0.3
    assert words.segments
    segment = words.segments[0]
    assert segment.id == 0
    assert segment.tokens
    assert segment.avg_logprob < 0
    assert 0 <= segment.no_speech_prob <= 1
    assert segment.compression_ratio > 0
    assert segment.temperature == 0.0

    # each request was an ordinary job of the caller's, on their express lane
    jobs = stack.api("/api/v1/jobs?pipeline=transcribe")["jobs"]
    assert len(jobs) == 5
    assert {j["status"] for j in jobs} == {"succeeded"}
    assert {j["lane"] for j in jobs} == {"express"}


def test_spanish_speech_is_translated_to_english(stack: OpenAIStack, tmp_path: Path) -> None:
    spanish = speak(SPANISH_SCRIPT, tmp_path / "spanish.wav", voice="es")
    # the client marks translations deprecated (OpenAI's newer models do not translate); the route stays
    with spanish.open("rb") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        translation = stack.client.audio.translations.create(model="whisper-1", file=fh)
    text = translation.text.lower()
    assert "park" in text, text
    assert "garden" in text, text


def test_synthesized_speech_is_transcribed_back(stack: OpenAIStack, tmp_path: Path) -> None:
    speech = stack.client.audio.speech.create(
        model="tts-1", voice="alloy", input=SPOKEN, response_format="wav"
    )
    audio = tmp_path / "speech.wav"
    audio.write_bytes(speech.content)
    with wave.open(str(audio)) as wav:
        assert wav.getnframes() / wav.getframerate() > 3
    with audio.open("rb") as fh:
        back = stack.client.audio.transcriptions.create(model="whisper-1", file=fh)
    error_rate = wer(SPOKEN, back.text)
    print(f"speech round trip: WER {error_rate:.3f}: {back.text!r}")
    assert error_rate <= 0.3, back.text

    flac = stack.client.audio.speech.create(
        model="tts-1", voice="nova", input="Hello there.", response_format="flac"
    )
    assert flac.content[:4] == b"fLaC"
    assert flac.response.headers["content-type"] == "audio/flac"
    pcm = stack.client.audio.speech.create(
        model="tts-1", voice="alloy", input="Hello there.", response_format="pcm", speed=1.5
    )
    assert len(pcm.content) % 2 == 0
    assert 0.3 < len(pcm.content) / 2 / 24000 < 3  # seconds of 24 kHz 16-bit mono


def test_errors_take_openais_shape(stack: OpenAIStack) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as too_long:
        stack.client.audio.speech.create(model="tts-1", voice="alloy", input="a" * 4097)
    error = too_long.value.body
    assert isinstance(error, dict)
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == "input"
    assert error["type"] == "invalid_request_error"
    assert "4096" in error["message"]

    stranger = openai.OpenAI(api_key="mj_not-a-key", base_url=stack.client.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as unauthorized:
        stranger.models.list()
    assert isinstance(unauthorized.value.body, dict)
    assert unauthorized.value.body["type"] == "authentication_error"
    stranger.close()

    with pytest.raises(openai.UnprocessableEntityError) as unknown:
        _transcribe(stack, "json", language="xx")  # no such Whisper language
    assert isinstance(unknown.value.body, dict)
    assert unknown.value.body["code"] == "unsupported_language"

    models = {m.id for m in stack.client.models.list()}
    assert {"whisper-1", "tiny.en", "base", "tts-1"} <= models


def test_respond_async_answers_202_with_the_jobs_links(stack: OpenAIStack) -> None:
    with stack.clip.open("rb") as fh:
        raw = stack.client.audio.transcriptions.with_raw_response.create(
            model="whisper-1", file=fh, extra_headers={"Prefer": "respond-async"}
        )
    assert raw.status_code == 202
    assert raw.headers["preference-applied"] == "respond-async"
    accepted = raw.http_response.json()
    job_id = accepted["id"]
    assert accepted["links"]["result"] == f"/api/v1/jobs/{job_id}/result"
    wait_for(
        lambda: stack.store.jobs.get_job(uuid.UUID(job_id), None).status.terminal,
        timeout=120,
        message="the async job ends",
    )
    assert wer(CLIP_SCRIPT, stack.api(f"/api/v1/jobs/{job_id}/result")["text"]) <= 0.3
