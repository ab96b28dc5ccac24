"""The transcribe options the OpenAI-compatible routes need (`prompt`, `temperature`, `segment_details`)
from the job's options to the engine and back into transcript.json, and the new audio formats' checks.
On the package's fakes; the real engines: tests/acceptance/test_openai_api.py."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from helpers.settings import make_settings
from mediajobs.api.multipart import FormFields
from mediajobs.audioformats import FORMATS, check_format, encode_args
from mediajobs.engines import SPEECH_TO_TEXT, Engines, Segment, SegmentDetails, TranscribeRequest, Word
from mediajobs.engines.whisper import temperatures_from
from mediajobs.engines.wire import (
    request_from_json,
    request_to_json,
    segment_from_json,
    segment_to_json,
)
from mediajobs.errors import InvalidRequest
from mediajobs.stages import StageContext
from mediajobs.stages.merge import kept_segments, monotonic
from mediajobs.stages.transcribe import transcribe
from mediajobs.storage import InMemoryStorage
from mediajobs.testing import FakeSpeechToText

DETAILS = SegmentDetails(
    seek=0,
    tokens=(50364, 2425, 456),
    temperature=0.2,
    avg_logprob=-0.31,
    compression_ratio=0.9,
    no_speech_prob=0.02,
)
SEGMENT = Segment(
    start=0.0,
    end=1.0,
    text="Hello there.",
    words=(
        Word(start=0.0, end=0.4, word=" Hello", probability=0.9),
        Word(start=0.5, end=1.0, word=" there."),
    ),
    details=DETAILS,
)


def _run(tmp_path: Path, options: dict[str, Any]) -> tuple[FakeSpeechToText, dict[str, Any]]:
    fake = FakeSpeechToText([SEGMENT])
    storage = InMemoryStorage()
    storage.write("jobs/x/normalize/audio.wav", [b"RIFF"])  # the fake reads no audio when given segments
    work = tmp_path / "work"
    work.mkdir()
    ctx = StageContext(
        job_id=uuid.uuid4(),
        stage="transcribe",
        attempt=1,
        source="upload://x",
        options=options,
        inputs={"audio": {"audio_key": "jobs/x/normalize/audio.wav", "duration": 1.0}},
        work_dir=work,
        storage=storage,
        settings=make_settings(tmp_path),
        engines=Engines().register(SPEECH_TO_TEXT, lambda: fake),
    )
    result = transcribe(ctx)
    [doc] = [a for a in result.artifacts if a.name == "transcript.json"]
    document: dict[str, Any] = json.loads(doc.path.read_text())
    return fake, document


def test_prompt_and_temperature_reach_the_engine_and_details_the_json(tmp_path: Path) -> None:
    fake, document = _run(tmp_path, {"prompt": "Hello, Zoë.", "temperature": 0.4, "segment_details": True})
    [request] = fake.requests
    assert (request.prompt, request.temperature) == ("Hello, Zoë.", 0.4)
    [segment] = document["segments"]
    assert segment["tokens"] == [50364, 2425, 456]
    assert (segment["seek"], segment["temperature"], segment["avg_logprob"]) == (0, 0.2, -0.31)
    assert (segment["compression_ratio"], segment["no_speech_prob"]) == (0.9, 0.02)


def test_without_segment_details_the_json_is_as_before(tmp_path: Path) -> None:
    fake, document = _run(tmp_path, {})
    [request] = fake.requests
    assert (request.prompt, request.temperature) == (None, None)
    assert set(document["segments"][0]) == {"id", "start", "end", "text"}


def test_the_engine_process_wire_carries_the_new_fields() -> None:
    request = TranscribeRequest(audio=Path("/a.wav"), prompt="Names: Zoë.", temperature=0.6)
    assert request_from_json(json.loads(json.dumps(request_to_json(request)))) == request
    assert segment_from_json(json.loads(json.dumps(segment_to_json(SEGMENT)))) == SEGMENT
    plain = Segment(start=0.0, end=1.0, text="Hi.")
    assert segment_from_json(segment_to_json(plain)) == plain


def test_chunks_keep_their_segments_details_when_merged() -> None:
    raw = [
        {"start": 0.0, "end": 1.0, "text": "Hello there.", "seek": 0, "tokens": [1, 2], "temperature": 0.0,
         "avg_logprob": -0.2, "compression_ratio": 1.1, "no_speech_prob": 0.01},
        {"start": 1.0, "end": 2.0, "text": "Bye."},
    ]  # fmt: skip
    kept = monotonic(kept_segments(raw, offset=60.0, keep=(0.0, 1e9), first=True, last=True))
    assert kept[0].details == SegmentDetails(
        seek=0, tokens=(1, 2), temperature=0.0, avg_logprob=-0.2, compression_ratio=1.1, no_speech_prob=0.01
    )
    assert kept[0].start == 60.0
    assert kept[1].details is None


def test_temperatures_rise_from_the_asked_one_by_a_fifth_to_one() -> None:
    assert temperatures_from(0.5) == (0.5, 0.7, 0.9)
    assert temperatures_from(0.2) == (0.2, 0.4, 0.6, 0.8, 1.0)
    assert temperatures_from(1.0) == (1.0,)


def test_an_audio_format_needs_its_encoder_on_the_machine() -> None:
    assert check_format("flac", frozenset({"flac"})).content_type == "audio/flac"
    assert check_format("wav", frozenset()).encoder is None  # no encoder needed
    assert check_format("aac", None).name == "aac"  # ffmpeg unknown here: the worker decides
    with pytest.raises(InvalidRequest) as missing:
        check_format("mp3", frozenset({"flac", "aac"}))
    assert missing.value.code == "unsupported_format"
    assert "flac" in missing.value.message
    with pytest.raises(InvalidRequest):
        check_format("ogg", None)
    assert encode_args(FORMATS["pcm"]) == ["-c:a", "pcm_s16le", "-ar", "24000", "-ac", "1", "-f", "s16le"]


def test_form_fields_keep_every_value_of_a_repeated_name() -> None:
    fields = FormFields()
    fields.add("timestamp_granularities[]", "word")
    fields.add("timestamp_granularities[]", "segment")
    fields.add("model", "whisper-1")
    assert fields["timestamp_granularities[]"] == "segment"  # a plain mapping: the last value
    assert fields.getlist("timestamp_granularities[]") == ["word", "segment"]
    assert fields.getlist("language") == []
