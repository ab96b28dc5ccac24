"""Re-run from a stage (POST /api/v1/jobs/{id}/rerun) through the HTTP API with a real worker.

The re-run's earlier stages are copied from the old job's checkpoints: the database shows no attempt
of theirs in the new job, and the stage it re-runs from runs once with the new options.
"""

from __future__ import annotations

from pathlib import Path

from helpers.auth import user_with_key
from helpers.media import SPEECH_SCRIPT, speak
from helpers.stack import Stack
from helpers.wer import wer


def test_a_rerun_from_transcribe_reuses_ingest_and_normalize(stack: Stack, tmp_path: Path) -> None:
    stack.worker()
    first_id = stack.submit_file(speak(SPEECH_SCRIPT, tmp_path / "speech.wav"), "audio/wav")
    first = stack.wait_job(first_id)
    assert first["status"] == "succeeded", first
    assert first["rerun_of"] is None

    response = stack.api.post(
        f"/api/v1/jobs/{first_id}/rerun",
        json={"from_stage": "transcribe", "options": {"word_timestamps": True}},
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["id"] != first_id
    assert body["rerun_of"] == first_id
    assert response.headers["Location"] == f"/api/v1/jobs/{body['id']}"
    assert body["source"] == first["source"]
    assert body["options"]["word_timestamps"] is True
    done = stack.wait_job(body["id"])
    assert done["status"] == "succeeded", done
    assert done["rerun_of"] == first_id
    names = [s["name"] for s in done["stages"]]
    before = names[: names.index("transcribe")]
    assert {"ingest", "normalize"} <= set(before)
    # the database: the earlier stages made no attempt in the new job, the re-run stage exactly one
    attempts = stack.store.jobs.list_attempts(done["id"])
    assert [(a.stage, a.outcome) for a in attempts] == [("transcribe", "succeeded")]
    for stage in done["stages"]:
        assert stage["status"] == "succeeded"
        assert stage["attempts"] == (1 if stage["name"] == "transcribe" else 0), stage
    old_normalize = next(s for s in stack.store.jobs.get_job(first["id"]).stages if s.name == "normalize")
    new_normalize = next(s for s in stack.store.jobs.get_job(done["id"]).stages if s.name == "normalize")
    assert new_normalize.output is not None
    assert old_normalize.output is not None
    assert new_normalize.output["duration"] == old_normalize.output["duration"]
    assert new_normalize.output["audio_key"] != old_normalize.output["audio_key"]  # its own copy

    transcript = stack.api.get(f"/api/v1/jobs/{done['id']}/result").json()
    assert wer(SPEECH_SCRIPT, transcript["text"]) <= 0.25
    assert any(segment.get("words") for segment in transcript["segments"])  # the new option took effect
    listed = stack.api.get(f"/api/v1/jobs/{done['id']}/artifacts").json()["artifacts"]
    assert {"transcript.json", "transcript.srt"} <= {a["name"] for a in listed}


def test_rerun_refusals(stack: Stack, tmp_path: Path) -> None:
    stack.worker()
    broken = stack.api.post(
        "/api/v1/jobs", files={"file": ("notes.txt", b"this is not audio at all\n" * 50, "text/plain")}
    )
    assert broken.status_code == 202
    failed = stack.wait_job(broken.json()["id"])
    assert failed["status"] == "failed"
    url = f"/api/v1/jobs/{failed['id']}/rerun"

    unknown = stack.api.post(url, json={"from_stage": "juggle"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_stage"
    assert "transcribe" in unknown.json()["error"]["message"]  # names the stages it has

    unfinished = stack.api.post(url, json={"from_stage": "transcribe"})
    assert unfinished.status_code == 409
    assert unfinished.json()["error"]["code"] == "stage_not_finished"

    bad_options = stack.api.post(url, json={"from_stage": "ingest", "options": {"vad": "often"}})
    assert bad_options.status_code == 422
    assert bad_options.json()["error"]["code"] == "invalid_options"

    _, key = user_with_key(stack.store, "mallory")
    others = stack.api.post(url, json={"from_stage": "ingest"}, headers={"Authorization": f"Bearer {key}"})
    assert others.status_code == 404
    assert others.json()["error"]["code"] == "not_found"

    missing = stack.api.post(
        "/api/v1/jobs/8d6b3c1e-9f6a-4f55-a5c4-2c8f3b1b9c11/rerun", json={"from_stage": "ingest"}
    )
    assert missing.status_code == 404

    # from the first stage nothing is reused: the whole job runs again (and fails the same way)
    again = stack.api.post(url, json={"from_stage": "ingest"})
    assert again.status_code == 202, again.text
    assert stack.wait_job(again.json()["id"])["error"]["code"] == "unsupported_media"
