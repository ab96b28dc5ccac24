"""The synthesize pipeline through the HTTP API: real worker, real espeak-ng, ffmpeg and Whisper."""

from __future__ import annotations

import io
import json
import subprocess
import uuid
import wave
from pathlib import Path
from typing import Any

from helpers.media import SPEECH_SCRIPT
from helpers.stack import Stack
from helpers.wer import wer, words

JOBS = "/api/v1/jobs"


def _run(stack: Stack, **body: Any) -> dict[str, Any]:
    response = stack.api.post(JOBS, json=body)
    assert response.status_code == 202, response.text
    job = stack.wait_job(response.json()["id"])
    assert job["status"] == "succeeded", job
    return job


def test_text_is_spoken_to_wav_that_transcribes_back(stack: Stack) -> None:
    stack.worker()
    job = _run(stack, pipeline="synthesize", text=SPEECH_SCRIPT, options={"language": "en", "voice": "en-us"})
    result = stack.api.get(f"{JOBS}/{job['id']}/result")
    assert result.headers["content-type"].startswith("audio/wav")
    with wave.open(io.BytesIO(result.content)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    expected = len(words(SPEECH_SCRIPT)) / 160 * 60  # the default rate, words per minute
    assert 0.6 * expected <= seconds <= 1.6 * expected, (seconds, expected)
    [artifact] = stack.api.get(f"{JOBS}/{job['id']}/artifacts").json()["artifacts"]
    assert (artifact["name"], artifact["size"]) == ("speech.wav", len(result.content))

    response = stack.api.post(JOBS, json={"pipeline": "transcribe", "source": f"job://{job['id']}"})
    assert response.status_code == 202, response.text
    back = stack.wait_job(response.json()["id"])
    assert back["status"] == "succeeded", back
    text = stack.api.get(f"{JOBS}/{back['id']}/result").json()["text"]
    error_rate = wer(SPEECH_SCRIPT, text)
    print(f"synthesize -> transcribe: {seconds:.2f} s (expected ~{expected:.1f}), WER {error_rate:.3f}")
    assert error_rate <= 0.3, (error_rate, text)
    # a transcript is no media source
    refused = stack.api.post(JOBS, json={"pipeline": "transcribe", "source": f"job://{back['id']}"})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "source_job_has_no_media"


def test_long_text_is_spoken_piece_by_piece_into_compressed_formats(stack: Stack, tmp_path: Path) -> None:
    stack.worker()
    long_text = SPEECH_SCRIPT * 4  # about 850 characters: two pieces
    for fmt, codec in (("mp3", "mp3"), ("opus", "opus")):
        job = _run(stack, pipeline="synthesize", text=long_text, options={"format": fmt, "rate": 220})
        result = stack.api.get(f"{JOBS}/{job['id']}/result")
        audio = tmp_path / f"speech.{fmt}"
        audio.write_bytes(result.content)
        entries = "stream=codec_name:format=duration"
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", str(audio)],
            capture_output=True,
            check=True,
        )
        info = json.loads(probe.stdout)
        assert info["streams"][0]["codec_name"] == codec
        stage = stack.store.jobs.get_job(uuid.UUID(job["id"])).stages[-1]
        assert stage.output is not None
        assert stage.output["pieces"] == 2
        assert abs(float(info["format"]["duration"]) - stage.output["duration"]) < 0.5


def test_a_translation_is_spoken_in_its_language(stack: Stack) -> None:
    stack.worker()
    translated = _run(
        stack,
        pipeline="translate",
        text="The weather is good today.",
        options={"source_language": "en", "target_language": "es"},
    )
    job = _run(stack, pipeline="synthesize", source=f"job://{translated['id']}", options={"language": "es"})
    assert stack.api.get(f"{JOBS}/{job['id']}/result").content.startswith(b"RIFF")


def test_a_language_or_voice_the_engine_lacks_is_refused_at_submit(stack: Stack) -> None:
    for options, code in (
        ({"language": "xx"}, "unsupported_language"),
        ({"language": "es", "voice": "es+nobody"}, "unsupported_voice"),
    ):
        response = stack.api.post(JOBS, json={"pipeline": "synthesize", "text": "Hola.", "options": options})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == code
    assert stack.api.get(JOBS).json()["jobs"] == []
    languages = stack.api.get("/api/v1/languages").json()
    assert {"en", "es", "pt"} <= set(languages["speech_languages"])


def test_flite_speaks_english_and_refuses_other_languages(stack: Stack) -> None:
    refused = stack.api.post(
        JOBS,
        json={"pipeline": "synthesize", "text": "Hola.", "options": {"engine": "flite", "language": "es"}},
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "unsupported_language"
    stack.worker()
    job = _run(stack, pipeline="synthesize", text=SPEECH_SCRIPT, options={"engine": "flite", "voice": "slt"})
    response = stack.api.post(JOBS, json={"pipeline": "transcribe", "source": f"job://{job['id']}"})
    assert response.status_code == 202, response.text
    back = stack.wait_job(response.json()["id"])
    assert back["status"] == "succeeded", back
    error_rate = wer(SPEECH_SCRIPT, stack.api.get(f"{JOBS}/{back['id']}/result").json()["text"])
    print(f"flite -> transcribe: WER {error_rate:.3f}")
    assert error_rate <= 0.3
