"""Synthesized speech is bounded while it grows (issue 23, finding 2, in part): 200,000 characters
at `rate: 80` made a 1 GB WAV. The stage stops at the piece that passes MEDIAJOBS_MAX_MEDIA_SECONDS
or MEDIAJOBS_MAX_DECODED_BYTES, and keeps one copy of the speech (each piece deleted once appended).
On the package's fake engine (silence, 0.05 s per character: 30 s per 600-character piece)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from helpers.settings import make_settings
from mediajobs.engines import Engines
from mediajobs.engines.synthesis import synthesis_slot
from mediajobs.errors import PermanentError
from mediajobs.stages import StageContext
from mediajobs.stages.synthesize import synthesize
from mediajobs.storage import InMemoryStorage
from mediajobs.testing import FakeSynthesis
from mediajobs.textio import Cue, cues_json

SENTENCE = "This sentence is spoken again and again to make a long text. "  # 62 characters


def run(tmp_path: Path, fake: FakeSynthesis, sentences: int, **settings: Any) -> StageContext:
    work = tmp_path / "work"
    work.mkdir()
    storage = InMemoryStorage()
    key = "jobs/x/work/read_text/1/cues.json"
    cues = [Cue(text=SENTENCE * sentences, start=0.0, end=0.0)]
    storage.write(key, [json.dumps({"timed": False, "cues": cues_json(cues)}).encode()])
    return StageContext(
        job_id=uuid.uuid4(), stage="synthesize", attempt=1, source="upload://x",
        options={"language": "en", "format": "wav"}, inputs={"text": {"cues_key": key}},
        work_dir=work, storage=storage, settings=make_settings(tmp_path, **settings),
        engines=Engines().register(synthesis_slot("espeak-ng"), lambda: fake),
    )  # fmt: skip


def test_speech_past_the_media_length_limit_stops_at_the_piece_that_passed_it(tmp_path: Path) -> None:
    fake = FakeSynthesis()
    ctx = run(tmp_path, fake, 50, MEDIAJOBS_MAX_MEDIA_SECONDS=60)  # ~5 pieces of ~30 s
    with pytest.raises(PermanentError) as caught:
        synthesize(ctx)
    assert caught.value.code == "media_too_long"
    assert len(fake.spoken) == 3  # 30 s, 60 s, then past 60 s: nothing more is spoken
    assert not (ctx.work_dir / "piece2.wav").exists()  # appended pieces are deleted at once


def test_speech_past_the_decoded_bytes_limit_is_refused(tmp_path: Path) -> None:
    fake = FakeSynthesis()
    ctx = run(tmp_path, fake, 50, MEDIAJOBS_MAX_DECODED_BYTES=2 * 1024**2)  # 30 s is 1.3 MB
    with pytest.raises(PermanentError) as caught:
        synthesize(ctx)
    assert caught.value.code == "media_too_large"
    assert len(fake.spoken) == 2


def test_speech_within_the_limits_is_whole(tmp_path: Path) -> None:
    fake = FakeSynthesis()
    result = synthesize(run(tmp_path, fake, 20))
    assert len(fake.spoken) >= 2
    assert result.output["duration"] == pytest.approx(0.05 * sum(len(p) for p in fake.spoken), abs=0.01)
    assert [p.name for p in (tmp_path / "work").iterdir()] == ["speech.wav"]
