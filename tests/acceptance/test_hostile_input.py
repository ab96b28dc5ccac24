"""Hostile media through the whole service (API, Celery worker, Redis, PostgreSQL, ffmpeg): refused by
the stage that should refuse it, with a clear code, a message naming no host path, and no work left."""

from __future__ import annotations

import time
from pathlib import Path

from helpers import media
from helpers.stack import Stack


def test_ten_hours_of_silent_opus_are_refused_with_media_too_long(stack: Stack, tmp_path: Path) -> None:
    opus = media.silent_opus(tmp_path / "ten-hours.opus", hours=10)
    stack.worker()
    started = time.monotonic()
    job_id = stack.submit_file(opus)

    job = stack.wait_job(job_id)
    took = time.monotonic() - started

    assert job["status"] == "failed", job
    assert job["error"]["code"] == "media_too_long"
    assert [s["status"] for s in job["stages"]] == ["succeeded", "failed", "skipped"]
    normalize = job["stages"][1]
    assert normalize["attempts"] == 1  # permanent: not retried
    assert str(stack.settings.resolved_storage_dir) not in job["error"]["message"]
    assert not any(stack.settings.work_dir.glob(f"{job_id}/*"))
    print(f"10-hour Opus ({opus.stat().st_size} bytes): submit to failed in {took:.2f} s")


def test_a_playlist_naming_another_upload_fails_without_reading_it(stack: Stack, tmp_path: Path) -> None:
    secret = media.to_mp3(media.speak(media.SPEECH_SCRIPT, tmp_path / "secret.wav"), tmp_path / "secret.mp3")
    victim = stack.api.post(
        "/api/v1/uploads", files={"file": ("secret.mp3", secret.read_bytes(), "audio/mpeg")}
    )
    victim_path = stack.settings.resolved_storage_dir / "uploads" / victim.json()["id"] / "secret.mp3"
    assert victim_path.is_file()
    playlist = tmp_path / "list.m3u8"
    playlist.write_bytes(
        f"#EXTM3U\n# \xff\n#EXT-X-TARGETDURATION:30\n#EXTINF:30,\n{victim_path}\n#EXT-X-ENDLIST\n".encode(
            "latin-1"
        )
    )
    stack.worker()

    job = stack.wait_job(stack.submit_file(playlist))

    assert job["status"] == "failed", job
    assert job["error"]["code"] == "unsupported_media"
    assert "HLS playlist" in job["error"]["message"]
    assert str(stack.settings.resolved_storage_dir) not in job["error"]["message"]
