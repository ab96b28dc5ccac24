"""Issue 23 finding 3 with a real Celery worker, PostgreSQL, Redis, ffmpeg, whisper and local storage:
the files a worker stores for a job count against its owner's stored bytes (a stage's file past them
fails the job, and is never stored), and DELETE of a job and of an upload removes their files from
storage and gives the bytes back."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.settings import make_settings
from helpers.stack import Stack, open_stack
from mediajobs.domain import Tier

# Room after the upload: one job's normalized audio (3 s at 16 kHz mono, about 96 KB) and its small
# transcripts fit; a second job's normalized audio does not.
ROOM = 150_000


def stereo_wav(target: Path, seconds: float = 3.0) -> Path:
    """A 48 kHz stereo tone (about 576 KB): its normalized copy is a sixth of it."""
    tone = f"sine=frequency=440:duration={seconds}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", tone, "-ac", "2", "-ar", "48000", str(target)],
        check=True,
    )
    return target


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    return stereo_wav(tmp_path / "tone.wav")


@pytest.fixture
def stack(tmp_path: Path, pg_url: str, redis_url: str, audio: Path) -> Iterator[Stack]:
    settings = make_settings(
        tmp_path,
        MEDIAJOBS_DATABASE_URL=pg_url,
        CELERY_BROKER_URL=redis_url,
        MEDIAJOBS_TIER_LIMITS={"free": {"stored_bytes": audio.stat().st_size + ROOM}},
    )
    with open_stack(settings, tmp_path) as opened:
        yield opened


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_a_workers_files_count_and_delete_gives_them_back(stack: Stack, audio: Path) -> None:
    user = stack.store.users.create_user("alice", tier=Tier.FREE)
    _, key = stack.store.users.create_key(user.id)
    alice = {"Authorization": f"Bearer {key}"}
    api, storage_dir = stack.api, stack.settings.resolved_storage_dir

    def stored() -> int:
        used: int = api.get("/api/v1/me", headers=alice).json()["usage"]["stored_bytes"]
        return used

    def run_job() -> dict[str, Any]:
        body = {"pipeline": "transcribe", "source": f"upload://{upload_id}", "options": {"language": "en"}}
        submitted = api.post("/api/v1/jobs", json=body, headers=alice)
        assert submitted.status_code == 202, submitted.text
        return stack.wait_job(submitted.json()["id"], timeout=300)  # the stack's key sees every job

    with audio.open("rb") as fh:
        uploaded = api.post("/api/v1/uploads", files={"file": ("tone.wav", fh, "audio/wav")}, headers=alice)
    assert uploaded.status_code == 201, uploaded.text
    upload_id, size = uploaded.json()["id"], audio.stat().st_size
    stack.worker()

    first = run_job()
    assert first["status"] == "succeeded", first
    first_files = files_under(storage_dir / "jobs" / first["id"])
    kept = sum(p.stat().st_size for p in first_files)
    assert kept > 90_000  # the normalized audio and the transcripts
    assert stored() == size + kept

    second = run_job()  # its normalized audio would pass the quota
    assert second["status"] == "failed", second
    assert second["error"]["code"] == "storage_quota_exceeded", second
    assert files_under(storage_dir / "jobs" / second["id"]) == []  # refused before it was stored
    assert stored() == size + kept

    deleted = api.delete(f"/api/v1/jobs/{first['id']}", headers=alice)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["status"] == "deleted"
    assert files_under(storage_dir / "jobs" / first["id"]) == []
    assert api.get(f"/api/v1/jobs/{first['id']}/artifacts/transcript.json", headers=alice).status_code == 404
    assert stored() == size
    assert api.delete(f"/api/v1/uploads/{upload_id}", headers=alice).status_code == 204
    assert files_under(storage_dir / "uploads") == []
    assert stored() == 0
