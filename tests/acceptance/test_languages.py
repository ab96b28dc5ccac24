"""Models and languages through the HTTP API, with a real worker and the real Whisper models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers.media import SPANISH_SCRIPT, speak
from helpers.stack import Stack
from helpers.wer import wer

JOBS = "/api/v1/jobs"


def _submit(stack: Stack, clip: Path, options: str) -> str:
    with clip.open("rb") as fh:
        response = stack.api.post(
            "/api/v1/jobs",
            files={"file": (clip.name, fh, "audio/wav")},
            data={"pipeline": "transcribe", "options": options},
        )
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def _spanish(stack: Stack, tmp_path: Path, options: str) -> tuple[str, dict[str, Any]]:
    """A job over espeak-ng's Spanish reading of SPANISH_SCRIPT: (job id, its transcript)."""
    clip = speak(SPANISH_SCRIPT, tmp_path / "spanish.wav", voice="es")
    stack.worker()
    job = stack.wait_job(_submit(stack, clip, options), timeout=240)
    assert job["status"] == "succeeded", job
    return job["id"], stack.api.get(f"{JOBS}/{job['id']}/result").json()


def test_spanish_speech_with_base_is_detected_and_transcribed(stack: Stack, tmp_path: Path) -> None:
    job_id, transcript = _spanish(stack, tmp_path, '{"model": "base", "language": "auto"}')
    assert transcript["language"] == "es"
    assert transcript["language_probability"] > 0.5
    error_rate = wer(SPANISH_SCRIPT, transcript["text"])
    print(
        f"base, auto: {transcript['language']} p={transcript['language_probability']}, WER {error_rate:.3f}"
    )
    assert error_rate <= 0.35, (error_rate, transcript["text"])
    artifacts = stack.api.get(f"{JOBS}/{job_id}/artifacts").json()["artifacts"]
    assert {a["name"] for a in artifacts} >= {"transcript.json", "transcript.srt"}
    assert all(a["size"] > 0 and a["content_type"] for a in artifacts)


def test_english_only_model_is_refused_another_language_at_submit(stack: Stack, tmp_path: Path) -> None:
    clip = speak(SPANISH_SCRIPT, tmp_path / "spanish.wav", voice="es")
    with clip.open("rb") as fh:
        response = stack.api.post(
            "/api/v1/jobs",
            files={"file": (clip.name, fh, "audio/wav")},
            data={"pipeline": "transcribe", "options": '{"model": "tiny.en", "language": "es"}'},
        )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unsupported_language"
    assert "base" in error["message"]
    default = stack.api.post(
        "/api/v1/jobs",
        json={"pipeline": "transcribe", "source": "https://example.com/a.wav", "options": {"language": "fr"}},
    )
    assert default.status_code == 422, default.text
    assert default.json()["error"]["code"] == "unsupported_language"
    unknown = stack.api.post(
        "/api/v1/jobs",
        json={"pipeline": "transcribe", "source": "https://example.com/a.wav", "options": {"model": "huge"}},
    )
    assert unknown.status_code == 422
    assert "tiny.en" in unknown.json()["error"]["message"]
    assert stack.api.get("/api/v1/jobs").json()["jobs"] == []


def test_models_are_listed_with_languages_and_sizes(stack: Stack) -> None:
    models = {m["name"]: m for m in stack.api.get("/api/v1/models").json()["models"]}
    assert models["tiny.en"]["languages"] == ["en"]
    assert models["tiny.en"]["default"]
    assert models["tiny.en"]["tasks"] == ["transcribe"]
    assert "es" in models["base"]["languages"]
    assert models["base"]["multilingual"]
    assert models["base"]["size"] == 145_217_532
    assert models["base"]["tasks"] == ["transcribe", "translate"]


def test_spanish_speech_is_translated_to_english_text(stack: Stack, tmp_path: Path) -> None:
    _, transcript = _spanish(stack, tmp_path, '{"model": "base", "task": "translate"}')
    assert transcript["language"] == "es"  # what was spoken; the text is English
    text = transcript["text"].lower()
    assert "park" in text
    assert "garden" in text
