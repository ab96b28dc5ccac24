"""Every shipped pipeline once, through a running service: what a new user tries first.

Used by the tests that start the service the way users do (`mediajobs up`, the README's production
commands), so a pipeline whose queue no worker serves hangs there, not in production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers.media import SPEECH_SCRIPT, speak, video_with_speech
from helpers.wer import wer
from mediajobs.client import Client

DUB_SCRIPT = "The children are playing football near the river.\n"
TEXT = "The weather today is sunny and warm. We will walk to the park after lunch."
VIDEO_SCRIPT = "A first scene.\n\nAnd a second one."


def tour_every_pipeline(client: Client, tmp_path: Path, *, timeout: float = 300) -> dict[str, dict[str, Any]]:
    """Submit transcribe, translate (from a text and from the finished transcription), synthesize,
    dub (of a short video) and a two-scene video (its `render` queue must be served); wait for all;
    check each succeeded with a plausible result."""
    clip = speak(SPEECH_SCRIPT, tmp_path / "tour-speech.wav")
    video = video_with_speech(DUB_SCRIPT, tmp_path / "tour-video.mp4")
    submitted = {
        "transcribe": client.submit(clip)["id"],
        "translate text": client.submit_text(
            TEXT, options={"source_language": "en", "target_language": "es"}
        )["id"],
        "synthesize": client.submit_text(TEXT, pipeline="synthesize")["id"],
        "dub": client.submit(video, pipeline="dub", options={"target_language": "es"})["id"],
        "video": client.submit_text(VIDEO_SCRIPT, pipeline="video", options={"pad_seconds": 0.2})["id"],
    }
    jobs = {name: _finished(client, job_id, timeout) for name, job_id in submitted.items()}
    transcribed = submitted["transcribe"]
    from_job = client.submit(f"job://{transcribed}", pipeline="translate", options={"target_language": "es"})
    jobs["translate job"] = _finished(client, from_job["id"], timeout)

    assert wer(SPEECH_SCRIPT, client.result(transcribed)["text"]) <= 0.25
    assert "parque" in client.result(submitted["translate text"])["text"].lower()
    assert "parque" in client.result(from_job["id"])["text"].lower()
    speech = client.artifact(submitted["synthesize"], "speech.wav")
    assert speech[:4] == b"RIFF"
    assert len(speech) > 20_000
    assert client.result(submitted["dub"])["video"] == "dubbed.mp4"
    assert len(client.artifact(submitted["dub"], "dubbed.mp4")) > 1000
    made = client.result(submitted["video"])
    assert [s["index"] for s in made["scenes"]] == [0, 1]
    assert client.artifact(submitted["video"], "video.mp4")[4:8] == b"ftyp"
    return jobs


def _finished(client: Client, job_id: str, timeout: float) -> dict[str, Any]:
    job = client.wait(job_id, timeout=timeout, poll=0.25)
    assert job["status"] == "succeeded", (job["pipeline"], job.get("error"), job.get("waiting"))
    return job
