"""The synthesize stage's new formats (OpenAI's `aac`, `flac`, `pcm`) through the real ffmpeg, on the
package's fake speech engine (silence of a known length)."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from helpers.settings import make_settings
from mediajobs.engines import Engines
from mediajobs.engines.synthesis import synthesis_slot
from mediajobs.stages import StageContext
from mediajobs.stages.synthesize import synthesize
from mediajobs.storage import InMemoryStorage
from mediajobs.testing import FakeSynthesis
from mediajobs.textio import Cue, cues_json

TEXT = "Hello there."  # 12 characters: 1.2 s of the fake's silence


def _speak(tmp_path: Path, fmt: str) -> Path:
    storage = InMemoryStorage()
    storage.write(
        "jobs/x/read_text/cues.json",
        [json.dumps({"timed": False, "cues": cues_json([Cue(text=TEXT)])}).encode()],
    )
    work = tmp_path / fmt
    work.mkdir()
    ctx = StageContext(
        job_id=uuid.uuid4(),
        stage="synthesize",
        attempt=1,
        source="upload://x",
        options={"format": fmt},
        inputs={"text": {"cues_key": "jobs/x/read_text/cues.json"}},
        work_dir=work,
        storage=storage,
        settings=make_settings(tmp_path),
        engines=Engines().register(synthesis_slot("espeak-ng"), lambda: FakeSynthesis(seconds_per_char=0.1)),
    )
    [artifact] = synthesize(ctx).artifacts
    assert artifact.name == f"speech.{fmt}"
    return artifact.path


@pytest.mark.parametrize(("fmt", "codec"), [("aac", "aac"), ("flac", "flac")])
def test_aac_and_flac_are_encoded_at_the_speechs_length(tmp_path: Path, fmt: str, codec: str) -> None:
    path = _speak(tmp_path, fmt)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name:format=duration", "-of", "json",
         str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    info = json.loads(probe.stdout)
    assert info["streams"][0]["codec_name"] == codec
    assert float(info["format"]["duration"]) == pytest.approx(1.2, abs=0.1)


def test_pcm_is_raw_24khz_16_bit_mono(tmp_path: Path) -> None:
    data = _speak(tmp_path, "pcm").read_bytes()
    assert not data.startswith(b"RIFF")  # no header
    assert len(data) == pytest.approx(1.2 * 24000 * 2, rel=0.01)
