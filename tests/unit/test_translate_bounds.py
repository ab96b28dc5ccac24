"""A translation hop's input is bounded by size (issue 23, finding 2, in part): a 15 MB single line
kept Apertium's format filter busy until the hop's 600 s timeout. On the package's fake engine."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from helpers.settings import make_settings
from mediajobs.engines import Engines
from mediajobs.engines.translation import TRANSLATION
from mediajobs.errors import PermanentError
from mediajobs.stages import StageContext
from mediajobs.stages.translate import BLOCK_MAX_CHARS, HOP_MAX_BYTES, translate
from mediajobs.storage import InMemoryStorage
from mediajobs.testing import FakeTranslation
from mediajobs.textio import Cue, cues_json


def context(tmp_path: Path, fake: FakeTranslation, text: str) -> StageContext:
    storage = InMemoryStorage()
    key = "jobs/x/work/read_text/1/cues.json"
    cues = [Cue(text=text, start=0.0, end=0.0)]
    storage.write(key, [json.dumps({"timed": False, "cues": cues_json(cues)}).encode()])
    work = tmp_path / "work"
    work.mkdir()
    return StageContext(
        job_id=uuid.uuid4(), stage="translate", attempt=1, source="upload://x",
        options={"source_language": "en", "target_language": "es"}, inputs={"text": {"cues_key": key}},
        work_dir=work, storage=storage, settings=make_settings(tmp_path),
        engines=Engines().register(TRANSLATION, lambda: fake),
    )  # fmt: skip


def test_a_long_line_reaches_the_engine_in_bounded_pieces_and_comes_back_whole(tmp_path: Path) -> None:
    fake = FakeTranslation()
    line = "word " * 30_000  # 150,000 characters, one line
    result = translate(context(tmp_path, fake, line))
    sent = fake.calls[0][1]
    assert max(len(block) for block in sent) <= BLOCK_MAX_CHARS
    assert "".join(sent).replace(" ", "") == line.replace(" ", "")
    text = {a.name: a for a in result.artifacts}["translation.txt"].path.read_text()
    assert text.count("word") == 30_000


def test_a_hop_input_over_the_size_bound_is_refused_before_the_engine_runs(tmp_path: Path) -> None:
    fake = FakeTranslation()
    with pytest.raises(PermanentError) as caught:
        translate(context(tmp_path, fake, "palabra " * (HOP_MAX_BYTES // 8 + 1)))
    assert caught.value.code == "text_too_large"
    assert fake.calls == []
