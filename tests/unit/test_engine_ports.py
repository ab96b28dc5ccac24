"""Stages talk to engines only through their ports: each runs here on the package's fakes (no
Apertium, espeak-ng or network), which is also how a deployment's tests can run them."""

from __future__ import annotations

import json
import uuid
import wave
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers.settings import make_settings
from mediajobs.engines import Engines
from mediajobs.engines.http import OUTBOUND_HTTP
from mediajobs.engines.synthesis import synthesis_slot
from mediajobs.engines.translation import TRANSLATION
from mediajobs.errors import PermanentError, RetryableError
from mediajobs.stages import StageContext
from mediajobs.stages.dub_voice import dub_voice
from mediajobs.stages.ingest import ingest
from mediajobs.stages.synthesize import synthesize
from mediajobs.stages.translate import translate
from mediajobs.storage import InMemoryStorage, read_bytes
from mediajobs.testing import FakeSynthesis, FakeTranslation, MockHttp
from mediajobs.textio import Cue, cues_json

CUES = [Cue(text="Hello there.", start=0.0, end=1.5), Cue(text="Good bye.", start=2.0, end=3.0)]


def context(tmp_path: Path, engines: Engines, *, stage: str, **fields: Any) -> StageContext:
    work = tmp_path / "work" / stage
    work.mkdir(parents=True)
    values: dict[str, Any] = dict(
        job_id=uuid.uuid4(), stage=stage, attempt=1, source="upload://x", options={}, inputs={},
        work_dir=work, storage=InMemoryStorage(), settings=make_settings(tmp_path), engines=engines,
    )  # fmt: skip
    values.update(fields)
    return StageContext(**values)


def with_cues(ctx: StageContext) -> StageContext:
    """The context with `CUES` checkpointed as its `text` input (what read_text leaves)."""
    key = "jobs/x/work/read_text/1/cues.json"
    ctx.storage.write(key, [json.dumps({"timed": True, "cues": cues_json(CUES)}).encode()])
    return StageContext(**{**ctx.__dict__, "inputs": {"text": {"cues_key": key}}})


def test_translate_goes_through_the_translation_port_hop_by_hop(tmp_path: Path) -> None:
    fake = FakeTranslation()
    ctx = with_cues(
        context(
            tmp_path,
            Engines().register(TRANSLATION, lambda: fake),
            stage="translate",
            options={"source_language": "en", "target_language": "pt"},
        )
    )

    result = translate(ctx)

    assert result.output["route"] == ["en-es", "es-pt"]  # no direct pair: chained
    assert result.output["engine"] == "fake-translation"
    assert [mode for mode, _ in fake.calls] == ["en-es", "es-pt"]
    srt = {a.name: a for a in result.artifacts}["translation.srt"].path.read_text()
    assert "[pt] [es] Hello there." in srt
    assert "00:00:02,000 --> 00:00:03,000" in srt  # the cues' times kept


def test_translate_sends_a_sentence_across_cues_as_one_block_and_keeps_the_cues(tmp_path: Path) -> None:
    fake = FakeTranslation()
    cues = [
        Cue(text="The company increased its revenue and", start=0.0, end=2.5),
        Cue(text="grew by twelve percent last year.", start=2.5, end=5.0),
        Cue(text="- Really?\n- Yes.", start=5.5, end=7.0),  # dialogue: a block per line
    ]
    ctx = context(
        tmp_path,
        Engines().register(TRANSLATION, lambda: fake),
        stage="translate",
        options={"source_language": "en", "target_language": "es", "max_line_chars": 30},
    )
    key = "jobs/x/work/read_text/1/cues.json"
    ctx.storage.write(key, [json.dumps({"timed": True, "cues": cues_json(cues)}).encode()])

    result = translate(StageContext(**{**ctx.__dict__, "inputs": {"text": {"cues_key": key}}}))

    [(_, blocks)] = fake.calls
    assert blocks == [
        "The company increased its revenue and grew by twelve percent last year.",
        "- Really?",
        "- Yes.",
    ]
    doc = json.loads({a.name: a for a in result.artifacts}["translation.json"].path.read_text())
    assert [(c["start"], c["end"]) for c in doc["cues"]] == [(0.0, 2.5), (2.5, 5.0), (5.5, 7.0)]
    assert all(len(line) <= 30 for c in doc["cues"] for line in c["text"].split("\n"))
    assert doc["cues"][0]["text"].startswith("[es] The company")
    assert doc["cues"][2]["text"] == "[es] - Really?\n[es] - Yes."


def test_a_pair_the_worker_lacks_fails_the_stage_permanently(tmp_path: Path) -> None:
    ctx = with_cues(
        context(
            tmp_path,
            Engines().register(TRANSLATION, lambda: FakeTranslation(pairs=[("en", "es")])),
            stage="translate",
            options={"source_language": "en", "target_language": "ca"},
        )
    )
    with pytest.raises(PermanentError) as caught:
        translate(ctx)
    assert caught.value.code == "unsupported_language_pair"


def test_synthesize_speaks_through_the_slot_of_the_engine_the_job_names(tmp_path: Path) -> None:
    fake = FakeSynthesis(seconds_per_char=0.1)
    engines = Engines().register(synthesis_slot("flite"), lambda: fake)  # no espeak-ng slot at all
    ctx = with_cues(
        context(tmp_path, engines, stage="synthesize", options={"engine": "flite", "language": "en"})
    )

    result = synthesize(ctx)

    assert fake.spoken == ["Hello there. Good bye."]  # sentences grouped into one piece
    [speech] = result.artifacts
    with wave.open(str(speech.path)) as wav:
        assert wav.getnframes() / wav.getframerate() == pytest.approx(
            len("Hello there. Good bye.") * 0.1, abs=0.01
        )
    assert result.output["engine"] == "flite"


def test_dub_voice_says_how_many_cues_were_sped_up_by_how_much_and_cut(tmp_path: Path) -> None:
    fake = FakeSynthesis(seconds_per_char=0.1)  # 1 s of speech per 10 characters
    engines = Engines().register(synthesis_slot("espeak-ng"), lambda: fake)
    cues = [
        Cue(text="a" * 10, start=0.0, end=1.0),  # 1 s in a 2 s slot: as it is
        Cue(text="b" * 15, start=2.0, end=3.0),  # 1.5 s in 1.2 s: 1.25 times faster
        Cue(text="c" * 20, start=3.2, end=4.0),  # 2 s in 1 s: 1.8 times faster at most, then cut
    ]
    ctx = context(tmp_path, engines, stage="voice", options={"target_language": "es"})
    key = "jobs/x/work/translate/1/cues.json"
    ctx.storage.write(key, [json.dumps({"timed": True, "cues": cues_json(cues)}).encode()])
    inputs = {"audio": {"duration": 4.2}, "text": {"cues_key": key}}

    output = dub_voice(StageContext(**{**ctx.__dict__, "inputs": inputs})).output

    assert (output["cues"], output["as_is"], output["sped_up"], output["cut"]) == (3, 1, 1, 1)
    assert output["max_tempo"] == 1.8
    assert output["mean_tempo"] == pytest.approx((1.25 + 1.8) / 2, abs=0.001)
    assert output["duration"] == 4.2


def test_ingest_downloads_through_the_outbound_http_port(tmp_path: Path) -> None:
    body = b"RIFF" + b"\0" * 4096

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/busy":
            return httpx.Response(503, headers={"Retry-After": "7"})
        if request.url.path == "/gone":
            return httpx.Response(404)
        return httpx.Response(200, headers={"Content-Type": "audio/wav"}, stream=httpx.ByteStream(body))

    http = MockHttp(answer)
    engines = Engines().register(OUTBOUND_HTTP, lambda: http)

    ctx = context(tmp_path / "a", engines, stage="ingest", source="https://media.example/talk.wav")
    ok = ingest(ctx)
    assert read_bytes(ctx.storage, ok.output["media_key"]) == body
    assert ok.output["size"] == len(body)
    assert ok.output["origin"] == "http"
    assert http.requests[0].headers["Accept-Encoding"] == "identity"
    with pytest.raises(RetryableError) as busy:
        ingest(context(tmp_path / "b", engines, stage="ingest", source="https://media.example/busy"))
    assert busy.value.retry_after == 7.0
    with pytest.raises(PermanentError):
        ingest(context(tmp_path / "c", engines, stage="ingest", source="https://media.example/gone"))
