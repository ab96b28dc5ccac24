"""The transcribe pipeline end to end: HTTP API, real Celery worker, Redis, PostgreSQL, ffmpeg, whisper."""

from __future__ import annotations

import itertools
from pathlib import Path

from helpers.media import SPEECH_SCRIPT, speak
from helpers.processes import FileServer, wait_for
from helpers.stack import Stack
from helpers.wer import wer
from mediajobs.subtitles import parse_srt, parse_vtt


def _check_transcript(stack: Stack, job_id: str) -> None:
    result = stack.api.get(f"/api/v1/jobs/{job_id}/result")
    assert result.status_code == 200
    transcript = result.json()
    assert transcript["segments"], transcript
    error_rate = wer(SPEECH_SCRIPT, transcript["text"])
    assert error_rate <= 0.25, (error_rate, transcript["text"])

    srt = stack.api.get(f"/api/v1/jobs/{job_id}/artifacts/transcript.srt")
    assert srt.status_code == 200
    assert srt.headers["content-type"].startswith("application/x-subrip")
    vtt = stack.api.get(f"/api/v1/jobs/{job_id}/artifacts/transcript.vtt")
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT")
    for cues in (parse_srt(srt.text), parse_vtt(vtt.text)):
        assert cues
        assert all(a.end <= b.start for a, b in itertools.pairwise(cues))
        assert all(c.end > c.start for c in cues)
        assert cues[-1].end <= transcript["duration"]
    txt = stack.api.get(f"/api/v1/jobs/{job_id}/artifacts/transcript.txt")
    assert txt.headers["content-type"].startswith("text/plain")
    names = {a["name"] for a in stack.api.get(f"/api/v1/jobs/{job_id}/artifacts").json()["artifacts"]}
    assert names == {"transcript.json", "transcript.srt", "transcript.vtt", "transcript.txt"}


def test_uploaded_speech_is_transcribed(stack: Stack, tmp_path: Path) -> None:
    clip = speak(SPEECH_SCRIPT, tmp_path / "speech.wav")
    stack.worker()
    with clip.open("rb") as fh:
        response = stack.api.post(
            "/api/v1/jobs",
            files={"file": ("speech.wav", fh, "audio/wav")},
            data={"pipeline": "transcribe", "options": '{"language": "en"}'},
        )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued"
    assert body["links"]["self"] == f"/api/v1/jobs/{body['id']}"

    job = stack.wait_job(body["id"])
    assert job["status"] == "succeeded", job
    assert job["progress"] == 100
    assert [s["status"] for s in job["stages"]] == ["succeeded"] * 3
    _check_transcript(stack, body["id"])


def test_url_source_is_downloaded_and_transcribed(stack: Stack, tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    speak(SPEECH_SCRIPT, served / "talk.wav")
    stack.worker()
    with FileServer(served) as server:
        response = stack.api.post(
            "/api/v1/jobs", json={"pipeline": "transcribe", "source": f"{server.url}/talk.wav"}
        )
        assert response.status_code == 202, response.text
        job = stack.wait_job(response.json()["id"])
        assert job["status"] == "succeeded", job
        assert server.hits["/talk.wav"] == 1
    _check_transcript(stack, job["id"])


def test_non_media_upload_fails_with_unsupported_media_and_no_retry(stack: Stack, tmp_path: Path) -> None:
    stack.worker()
    response = stack.api.post(
        "/api/v1/jobs", files={"file": ("notes.txt", b"this is not audio at all\n" * 50, "text/plain")}
    )
    assert response.status_code == 202
    job = stack.wait_job(response.json()["id"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "unsupported_media"
    assert sum(s["attempts"] for s in job["stages"]) == 1  # failed at once, never retried
    assert [a["outcome"] for a in job["attempts"]] == ["failed"]
    assert stack.api.get(f"/api/v1/jobs/{job['id']}/result").status_code == 409


def test_unknown_id_and_unknown_pipeline(stack: Stack) -> None:
    missing = stack.api.get("/api/v1/jobs/8d6b3c1e-9f6a-4f55-a5c4-2c8f3b1b9c11")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert stack.api.get("/api/v1/jobs/not-a-uuid").status_code == 404
    bad = stack.api.post("/api/v1/jobs", json={"pipeline": "juggle", "source": "https://example.com/a.mp3"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "unknown_pipeline"


def test_cancelled_queued_job_never_runs(stack: Stack, tmp_path: Path) -> None:
    clip = speak(SPEECH_SCRIPT, tmp_path / "speech.wav")
    with clip.open("rb") as fh:
        response = stack.api.post("/api/v1/jobs", files={"file": ("speech.wav", fh, "audio/wav")})
    job_id = response.json()["id"]
    # published to Redis while no worker runs
    wait_for(lambda: stack.store.outbox.pending_outbox_count() == 0, timeout=10, message="outbox drained")
    cancelled = stack.api.post(f"/api/v1/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"

    # a control job submitted after it must finish: then the worker has seen the cancelled one's message
    with clip.open("rb") as fh:
        control = stack.api.post("/api/v1/jobs", files={"file": ("speech.wav", fh, "audio/wav")}).json()["id"]
    stack.worker()
    assert stack.wait_job(control)["status"] == "succeeded"
    job = stack.api.get(f"/api/v1/jobs/{job_id}").json()
    assert job["status"] == "cancelled"
    assert job["attempts"] == []
    assert all(s["attempts"] == 0 for s in job["stages"])


def test_worker_killed_mid_transcription_resumes_without_downloading_again(
    stack: Stack, tmp_path: Path
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    speak(" ".join([SPEECH_SCRIPT] * 5), served / "long.wav")
    first = stack.worker()
    with FileServer(served) as server:
        job_id = stack.api.post(
            "/api/v1/jobs", json={"pipeline": "transcribe", "source": f"{server.url}/long.wav"}
        ).json()["id"]

        def transcribing() -> bool:
            job = stack.api.get(f"/api/v1/jobs/{job_id}").json()
            stage = {s["name"]: s for s in job["stages"]}["transcribe"]
            return stage["status"] == "running"

        wait_for(transcribing, timeout=90, interval=0.1, message="transcribe stage running")
        first.kill()
        assert stack.api.get(f"/api/v1/jobs/{job_id}").json()["status"] == "running"

        stack.worker()
        job = stack.wait_job(job_id, timeout=180)
        assert job["status"] == "succeeded", job
        assert server.hits["/long.wav"] == 1  # the checkpointed download was not repeated
    stages = {s["name"]: s for s in job["stages"]}
    assert stages["ingest"]["attempts"] == 1
    assert stages["normalize"]["attempts"] == 1
    assert stages["transcribe"]["attempts"] == 2
    outcomes = [(a["stage"], a["outcome"]) for a in job["attempts"]]
    assert ("transcribe", "lost") in outcomes
    assert outcomes[-1] == ("transcribe", "succeeded")
