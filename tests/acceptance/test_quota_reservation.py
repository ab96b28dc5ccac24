"""Issue 23, finding 5, end to end: 4 submits of one file on a plan that holds 2 of them run 2; the
others fail `quota_exceeded` once their media is measured, before anything is transcribed. Real API,
Celery worker, Redis, PostgreSQL, ffmpeg and speech-to-text."""

from __future__ import annotations

import wave
from pathlib import Path

from helpers.media import SPEECH_SCRIPT, speak
from helpers.settings import make_settings
from helpers.stack import open_stack
from mediajobs.domain import Tier


def test_four_submits_of_a_long_file_run_only_as_many_as_the_quota_holds(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    clip = speak(SPEECH_SCRIPT, tmp_path / "speech.wav")
    with wave.open(str(clip)) as sound:
        seconds = sound.getnframes() / sound.getframerate()
    limits = {
        "free": {"monthly_media_seconds": 2.5 * seconds, "monthly_jobs": None, "submits_per_minute": None}
    }
    settings = make_settings(
        tmp_path, MEDIAJOBS_DATABASE_URL=pg_url, CELERY_BROKER_URL=redis_url, MEDIAJOBS_TIER_LIMITS=limits
    )
    with open_stack(settings, tmp_path) as stack:
        user = stack.store.users.create_user("alice", tier=Tier.FREE)
        alice = {"Authorization": f"Bearer {stack.store.users.create_key(user.id)[1]}"}
        jobs = []
        for _ in range(4):  # all four pass the submit's check: nothing is used yet
            with clip.open("rb") as fh:
                answer = stack.api.post(
                    "/api/v1/jobs",
                    files={"file": ("speech.wav", fh, "audio/wav")},
                    data={"pipeline": "transcribe", "options": '{"language": "en"}'},
                    headers=alice,
                )
            assert answer.status_code == 202, answer.text
            jobs.append(answer.json()["id"])
        stack.worker(concurrency=2)
        ended = [stack.wait_job(job, timeout=300) for job in jobs]

        statuses = sorted(job["status"] for job in ended)
        assert statuses == ["failed", "failed", "succeeded", "succeeded"], statuses  # before: 4 succeeded
        for job in ended:
            stages = {s["name"]: s["status"] for s in job["stages"]}
            if job["status"] == "failed":
                assert job["error"]["code"] == "quota_exceeded", job["error"]
                assert stages["transcribe"] == "skipped"  # never transcribed
        usage = stack.api.get("/api/v1/me", headers=alice).json()["usage"]
        assert usage["reserved_media_minutes"] == 0.0  # every reservation settled
        assert abs(usage["media_minutes"] - 2 * seconds / 60) < 0.01, (usage, seconds)
        more = stack.api.post(
            "/api/v1/jobs",
            json={"pipeline": "transcribe", "source": "https://example.com/a.mp3"},
            headers=alice,
        )
        assert more.status_code == 202  # 2 of 2.5 used: room for a short file
