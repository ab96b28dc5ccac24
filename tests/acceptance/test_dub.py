"""The dub pipeline through the HTTP API: real worker, Whisper, Apertium, espeak-ng and ffmpeg."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import srt

from helpers.media import SPEECH_SCRIPT, speak, video_longer_than_its_speech, video_with_speech
from helpers.stack import Stack

JOBS = "/api/v1/jobs"


def _probe(path: Path) -> dict[str, Any]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        check=True,
    )
    probed: dict[str, Any] = json.loads(done.stdout)
    return probed


def _video_md5(path: Path) -> str:
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "md5", "-"],
        capture_output=True,
        check=True,
    )
    return done.stdout.decode().strip()


def _frames(path: Path) -> int:
    """The video frames ffprobe decodes and counts (`-count_frames`), not what the header claims."""
    argv = ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries"]
    done = subprocess.run(
        [*argv, "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        capture_output=True,
        check=True,
    )
    return int(done.stdout.decode().strip())


def _dub(stack: Stack, media: Path, options: dict[str, Any]) -> dict[str, Any]:
    with media.open("rb") as fh:
        response = stack.api.post(
            JOBS,
            files={"file": (media.name, fh, "application/octet-stream")},
            data={"pipeline": "dub", "options": json.dumps(options)},
        )
    assert response.status_code == 202, response.text
    job = stack.wait_job(response.json()["id"], timeout=240)
    assert job["status"] == "succeeded", (job["error"], [(s["name"], s["error"]) for s in job["stages"]])
    return job


def test_english_video_is_dubbed_into_spanish_keeping_its_video(stack: Stack, tmp_path: Path) -> None:
    original = video_with_speech(SPEECH_SCRIPT, tmp_path / "talk.mp4")
    stack.worker()
    job = _dub(stack, original, {"target_language": "es"})
    assert [s["kind"] for s in job["stages"]] == [
        "download", "media", "transcribe", "translate", "synthesize", "media",
    ]  # fmt: skip
    result = stack.api.get(f"{JOBS}/{job['id']}/result").json()
    assert result["video"] == "dubbed.mp4"
    dubbed = tmp_path / "dubbed.mp4"
    dubbed.write_bytes(stack.api.get(f"{JOBS}/{job['id']}/artifacts/dubbed.mp4").content)

    before, after = _probe(original), _probe(dubbed)
    [video_before] = [s for s in before["streams"] if s["codec_type"] == "video"]
    [video_after] = [s for s in after["streams"] if s["codec_type"] == "video"]
    for field in ("codec_name", "width", "height", "nb_frames", "pix_fmt"):
        assert video_after[field] == video_before[field], field
    assert _video_md5(dubbed) == _video_md5(original)  # the same packets: copied, not re-encoded
    audio = [s for s in after["streams"] if s["codec_type"] == "audio"]
    assert len(audio) == 1
    assert abs(float(audio[0]["duration"]) - float(before["format"]["duration"])) <= 0.5

    names = {a["name"] for a in stack.api.get(f"{JOBS}/{job['id']}/artifacts").json()["artifacts"]}
    assert {"translation.srt", "translation.vtt", "dubbed.wav", "dubbed.mp4", "transcript.srt"} <= names
    spanish = srt.parse(stack.api.get(f"{JOBS}/{job['id']}/artifacts/translation.srt").text)
    assert "parque" in " ".join(c.content for c in spanish).lower()
    voice = stack.store.jobs.get_job(uuid.UUID(job["id"])).stages[4].output
    assert voice is not None
    assert voice["cues"] >= 2
    shift = float(audio[0]["duration"]) - float(before["format"]["duration"])
    print(f"dub: {voice['cues']} cues, {voice['sped_up']} sped up, {voice['cut']} cut; audio {shift:+.3f} s")


def test_a_video_longer_than_its_audio_keeps_every_frame_and_the_dub_says_how_the_voice_fitted(
    stack: Stack, tmp_path: Path
) -> None:
    original = video_longer_than_its_speech(SPEECH_SCRIPT, tmp_path / "talk.mp4", tail=1.76)
    before = _probe(original)
    [audio_before] = [s for s in before["streams"] if s["codec_type"] == "audio"]
    [video_before] = [s for s in before["streams"] if s["codec_type"] == "video"]
    assert float(video_before["duration"]) - float(audio_before["duration"]) >= 1.7
    stack.worker()
    job = _dub(stack, original, {"target_language": "es"})
    dubbed = tmp_path / "dubbed.mp4"
    dubbed.write_bytes(stack.api.get(f"{JOBS}/{job['id']}/artifacts/dubbed.mp4").content)

    assert _frames(dubbed) == _frames(original)
    assert _video_md5(dubbed) == _video_md5(original)
    after = _probe(dubbed)
    [audio_after] = [s for s in after["streams"] if s["codec_type"] == "audio"]
    assert abs(float(audio_after["duration"]) - float(video_before["duration"])) <= 0.1  # padded to it

    result = stack.api.get(f"{JOBS}/{job['id']}/result").json()
    fit = result["voice"]
    assert fit["cues"] == fit["as_is"] + fit["sped_up"] + fit["cut"] >= 2
    assert 1.0 <= fit["mean_tempo"] <= fit["max_tempo"] <= 1.8
    assert (fit["max_tempo"] > 1.0) == (fit["sped_up"] + fit["cut"] > 0)


def test_audio_is_dubbed_over_the_ducked_original(stack: Stack, tmp_path: Path) -> None:
    original = speak(SPEECH_SCRIPT, tmp_path / "talk.wav")
    stack.worker()
    job = _dub(stack, original, {"target_language": "es", "mix": "duck"})
    result = stack.api.get(f"{JOBS}/{job['id']}/result").json()
    assert result["video"] is None
    assert result["mix"] == "duck"
    dubbed = tmp_path / "dubbed.wav"
    dubbed.write_bytes(stack.api.get(f"{JOBS}/{job['id']}/artifacts/dubbed.wav").content)
    [stream] = _probe(dubbed)["streams"]
    assert abs(float(stream["duration"]) - float(_probe(original)["format"]["duration"])) <= 0.5

    # re-run from `translate` into another language: ingest, normalize and transcribe do not run again
    response = stack.api.post(
        f"{JOBS}/{job['id']}/rerun", json={"from_stage": "translate", "options": {"target_language": "ca"}}
    )
    assert response.status_code == 202, response.text
    again = stack.wait_job(response.json()["id"], timeout=240)
    failures = [(s["name"], s["error"]) for s in again["stages"] if s["error"]]
    assert again["status"] == "succeeded", (again["error"], failures)
    assert again["rerun_of"] == job["id"]
    attempts = stack.store.jobs.list_attempts(uuid.UUID(again["id"]))
    assert sorted(a.stage for a in attempts) == ["mix", "translate", "voice"], attempts
    assert all(a.outcome == "succeeded" for a in attempts), attempts
    first = ("ingest", "normalize", "transcribe")
    reused = {s["name"]: s["attempts"] for s in again["stages"] if s["name"] in first}
    assert reused == dict.fromkeys(first, 0), again["stages"]
    catalan = srt.parse(stack.api.get(f"{JOBS}/{again['id']}/artifacts/translation.srt").text)
    spanish = srt.parse(stack.api.get(f"{JOBS}/{job['id']}/artifacts/translation.srt").text)
    pairs = list(zip(catalan, spanish, strict=True))  # the same cues (the transcript was reused) ...
    assert [(c.start, c.end) for c, _ in pairs] == [(s.start, s.end) for _, s in pairs]
    assert [c.content for c, _ in pairs] != [s.content for _, s in pairs]  # ... in another language


def test_dub_into_a_language_no_pair_reaches_is_refused_at_submit(stack: Stack) -> None:
    response = stack.api.post(
        JOBS,
        json={"pipeline": "dub", "source": "https://example.com/a.mp4", "options": {"target_language": "de"}},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "unsupported_language_pair"
