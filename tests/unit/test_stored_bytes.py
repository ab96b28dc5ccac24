"""Issue 23 finding 3: a user's stored bytes (uploads, their jobs' media and artifacts) are bounded by
their tier, shown in /me, and released by DELETE of an upload or a job. Through the HTTP API
(TestClient, SQLite, the in-memory broker) with a worker's runner draining it in-process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from helpers.clock import FakeClock
from helpers.settings import make_settings
from mediajobs.api.app import create_app
from mediajobs.domain import Pipeline, StageSpec, Tier
from mediajobs.engines import Engines
from mediajobs.errors import PayloadTooLarge
from mediajobs.housekeeping import Housekeeping
from mediajobs.pipelines import kinds
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.registry import build_registry
from mediajobs.stages import ArtifactFile, StageContext, StageResult
from mediajobs.store.tables import UploadRow
from mediajobs.wiring import Services, build_services

JOBS = "/api/v1/jobs"
UPLOADS = "/api/v1/uploads"
QUOTA = 10_000  # the free tier's stored bytes in these tests
LIMITS = {"free": {"stored_bytes": QUOTA}}


class FilesOptions(BaseModel):
    media: int = 0  # bytes of the checkpointed file its stage stores
    artifact: int = 0  # bytes of its artifact


def make_files(ctx: StageContext) -> StageResult:
    options = FilesOptions.model_validate(ctx.options)
    media = ctx.work_dir / "media.bin"
    media.write_bytes(b"m" * options.media)
    key = ctx.output_key("media.bin")
    ctx.storage.put_file(key, media)
    out = ctx.work_dir / "out.bin"
    out.write_bytes(b"a" * options.artifact)
    return StageResult(
        output={"media_key": key},
        artifacts=[ArtifactFile(name="out.bin", path=out, content_type="application/octet-stream")],
    )


FILES = Pipeline(
    name="files",
    description="One stage storing a media file and an artifact of the sizes asked for.",
    stages=(StageSpec(name="make", kind=kinds.MEDIA, code=make_files),),
    options_model=FilesOptions,
    source_schemes=frozenset({"noop", "upload"}),
)


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def services(
    tmp_path: Path, sqlite_url: str, publisher: InMemoryPublisher, clock: FakeClock
) -> Iterator[Services]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_TIER_LIMITS=LIMITS)
    registry = build_registry(settings)
    registry.add_pipeline(FILES)
    built = build_services(registry, publisher, engines=Engines(), clock=clock)
    yield built
    built.close()


@pytest.fixture
def api(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services.settings, services=services, maintenance=False)) as client:
        yield client


def user(services: Services, name: str, tier: Tier = Tier.FREE) -> dict[str, str]:
    made = services.store.users.create_user(name, tier=tier)
    _, key = services.store.users.create_key(made.id)
    return {"Authorization": f"Bearer {key}"}


def upload(api: TestClient, headers: dict[str, str], size: int) -> Any:
    return api.post(UPLOADS, files={"file": ("a.wav", b"x" * size, "audio/wav")}, headers=headers)


def stored(api: TestClient, headers: dict[str, str]) -> tuple[int, int | None]:
    me = api.get("/api/v1/me", headers=headers).json()
    return me["usage"]["stored_bytes"], me["limits"]["stored_bytes"]


def run_files_job(
    api: TestClient, services: Services, publisher: InMemoryPublisher, headers: dict[str, str], **sizes: int
) -> dict[str, Any]:
    accepted = api.post(
        JOBS, json={"pipeline": "files", "source": "noop://x", "options": sizes}, headers=headers
    )
    assert accepted.status_code == 202, accepted.text
    publisher.drain(services.runner.run)
    job: dict[str, Any] = api.get(f"{JOBS}/{accepted.json()['id']}", headers=headers).json()
    return job


def upload_keys(services: Services) -> list[str]:
    return [o.key for o in services.storage.list("uploads/")]


# -- uploads ----------------------------------------------------------------------------------------


def test_uploads_past_the_quota_are_refused_and_leave_nothing(api: TestClient, services: Services) -> None:
    alice = user(services, "alice")
    assert stored(api, alice) == (0, QUOTA)
    first = upload(api, alice, 6_000)
    assert first.status_code == 201, first.text

    refused = upload(api, alice, 6_000)  # 12,000 bytes would pass the 10,000 of the quota

    assert refused.status_code == 413, refused.text
    error = refused.json()["error"]
    assert error["code"] == "storage_quota_exceeded"
    assert "6000 of 10000 bytes" in error["message"]
    assert stored(api, alice) == (6_000, QUOTA)
    assert upload_keys(services) == [f"uploads/{first.json()['id']}/a.wav"]
    with services.store.engine.connect() as conn:
        assert conn.execute(UploadRow.__table__.select()).all().__len__() == 1
    assert upload(api, alice, 4_000).status_code == 201  # exactly up to the quota fits


def test_the_quota_is_checked_exactly_when_the_row_is_written(services: Services) -> None:
    """The streaming check reads the room once; an upload stored meanwhile is caught by the row's check."""
    owner = services.store.users.create_user("alice", tier=Tier.FREE).id
    limits = services.settings.tier_limits()
    services.store.uploads.create_upload(
        upload_id=uuid.uuid4(), owner_id=owner, filename="b", content_type=None, size=9_000,
        sha256="", key="uploads/x/b", limits=limits,
    )  # fmt: skip
    with pytest.raises(PayloadTooLarge) as refused:
        services.store.uploads.create_upload(
            upload_id=uuid.uuid4(), owner_id=owner, filename="c", content_type=None, size=2_000,
            sha256="", key="uploads/y/c", limits=limits,
        )  # fmt: skip
    assert refused.value.code == "storage_quota_exceeded"
    assert services.store.stored.used(owner) == 9_000


def test_a_text_submit_counts_and_is_refused_past_the_quota(api: TestClient, services: Services) -> None:
    alice = user(services, "alice")
    assert upload(api, alice, 9_990).status_code == 201
    response = api.post(JOBS, json={"pipeline": "synthesize", "text": "hello " * 10}, headers=alice)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "storage_quota_exceeded"


def test_enterprise_keeps_no_count_limit(api: TestClient, services: Services) -> None:
    boss = user(services, "boss", Tier.ENTERPRISE)
    assert upload(api, boss, 20_000).status_code == 201
    assert stored(api, boss) == (20_000, None)


def test_deleting_an_upload_releases_its_bytes(api: TestClient, services: Services) -> None:
    alice, mallory = user(services, "alice"), user(services, "mallory")
    upload_id = upload(api, alice, 8_000).json()["id"]
    assert upload(api, alice, 8_000).status_code == 413

    assert api.delete(f"{UPLOADS}/{upload_id}", headers=mallory).status_code == 404  # not theirs
    assert api.get(f"{UPLOADS}/{upload_id}", headers=alice).status_code == 200
    deleted = api.delete(f"{UPLOADS}/{upload_id}", headers=alice)

    assert deleted.status_code == 204, deleted.text
    assert api.get(f"{UPLOADS}/{upload_id}", headers=alice).status_code == 404
    assert api.delete(f"{UPLOADS}/{upload_id}", headers=alice).status_code == 404
    assert upload_keys(services) == []
    assert stored(api, alice) == (0, QUOTA)
    assert upload(api, alice, 8_000).status_code == 201


def test_an_upload_a_queued_job_reads_cannot_be_deleted(api: TestClient, services: Services) -> None:
    alice = user(services, "alice")
    upload_id = upload(api, alice, 100).json()["id"]
    job = api.post(JOBS, json={"pipeline": "files", "source": f"upload://{upload_id}"}, headers=alice)
    assert job.status_code == 202, job.text

    refused = api.delete(f"{UPLOADS}/{upload_id}", headers=alice)

    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "upload_in_use"
    assert api.post(f"{JOBS}/{job.json()['id']}/cancel", headers=alice).status_code == 200
    assert api.delete(f"{UPLOADS}/{upload_id}", headers=alice).status_code == 204


# -- jobs -------------------------------------------------------------------------------------------


def test_a_jobs_files_count_and_deleting_it_removes_them(
    api: TestClient, services: Services, publisher: InMemoryPublisher
) -> None:
    alice, mallory = user(services, "alice"), user(services, "mallory")
    job = run_files_job(api, services, publisher, alice, media=3_000, artifact=2_000)
    job_id = job["id"]
    assert job["status"] == "succeeded", job
    assert stored(api, alice) == (5_000, QUOTA)
    assert len(services.storage.list(f"jobs/{job_id}/")) == 2
    assert api.get(f"{JOBS}/{job_id}/artifacts/out.bin", headers=alice).status_code == 200

    assert api.delete(f"{JOBS}/{job_id}", headers=mallory).status_code == 404  # not theirs
    assert len(services.storage.list(f"jobs/{job_id}/")) == 2
    deleted = api.delete(f"{JOBS}/{job_id}", headers=alice)

    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["status"] == "deleted"
    assert api.get(f"{JOBS}/{job_id}", headers=alice).json()["status"] == "deleted"
    assert services.storage.list(f"jobs/{job_id}/") == []
    assert api.get(f"{JOBS}/{job_id}/artifacts", headers=alice).json() == {"artifacts": []}
    assert api.get(f"{JOBS}/{job_id}/artifacts/out.bin", headers=alice).status_code == 404
    assert api.get(f"{JOBS}/{job_id}/result", headers=alice).status_code in (404, 409)
    assert stored(api, alice) == (0, QUOTA)
    listed = api.get(JOBS, params={"status": "deleted"}, headers=alice).json()["jobs"]
    assert [j["id"] for j in listed] == [job_id]
    assert api.delete(f"{JOBS}/{job_id}", headers=alice).json()["status"] == "deleted"  # again: the same
    assert api.post(f"{JOBS}/{job_id}/retry", headers=alice).status_code == 409  # deleted is final


def test_a_queued_job_cannot_be_deleted(api: TestClient, services: Services) -> None:
    alice = user(services, "alice")
    job_id = api.post(JOBS, json={"pipeline": "files", "source": "noop://x"}, headers=alice).json()["id"]

    refused = api.delete(f"{JOBS}/{job_id}", headers=alice)

    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "job_not_finished"
    assert api.post(f"{JOBS}/{job_id}/cancel", headers=alice).status_code == 200
    assert api.delete(f"{JOBS}/{job_id}", headers=alice).json()["status"] == "deleted"


def test_a_stage_whose_files_would_pass_the_quota_fails_the_job(
    api: TestClient, services: Services, publisher: InMemoryPublisher
) -> None:
    alice = user(services, "alice")
    assert upload(api, alice, 6_000).status_code == 201

    job = run_files_job(api, services, publisher, alice, media=5_000)

    assert job["status"] == "failed", job
    assert job["error"]["code"] == "storage_quota_exceeded"
    assert services.storage.list(f"jobs/{job['id']}/") == []  # refused before it was stored
    assert stored(api, alice) == (6_000, QUOTA)


def test_an_artifact_past_the_quota_fails_the_job_and_its_media_still_counts_until_deleted(
    api: TestClient, services: Services, publisher: InMemoryPublisher
) -> None:
    alice = user(services, "alice")

    job = run_files_job(api, services, publisher, alice, media=6_000, artifact=6_000)

    assert job["status"] == "failed", job
    assert job["error"]["code"] == "storage_quota_exceeded"
    assert [o.size for o in services.storage.list(f"jobs/{job['id']}/")] == [6_000]
    assert stored(api, alice) == (6_000, QUOTA)
    assert api.delete(f"{JOBS}/{job['id']}", headers=alice).status_code == 200
    assert stored(api, alice) == (0, QUOTA)
    assert services.storage.list(f"jobs/{job['id']}/") == []


def test_expiry_releases_a_jobs_bytes(
    api: TestClient, services: Services, publisher: InMemoryPublisher, clock: FakeClock
) -> None:
    alice = user(services, "alice")
    job = run_files_job(api, services, publisher, alice, media=1_000, artifact=500)
    assert stored(api, alice) == (1_500, QUOTA)

    clock.advance(services.settings.retention_days * 86_400 + 60)
    Housekeeping(services.store, services.storage, services.workspace, services.settings).run("cleanup")

    assert api.get(f"{JOBS}/{job['id']}", headers=alice).json()["status"] == "expired"
    assert services.storage.list(f"jobs/{job['id']}/") == []
    assert stored(api, alice) == (0, QUOTA)


def test_a_deleted_or_expired_job_cannot_be_rerun(
    api: TestClient, services: Services, publisher: InMemoryPublisher
) -> None:
    alice = user(services, "alice")
    job = run_files_job(api, services, publisher, alice, media=100)
    assert api.delete(f"{JOBS}/{job['id']}", headers=alice).status_code == 200

    refused = api.post(f"{JOBS}/{job['id']}/rerun", json={"from_stage": "make"}, headers=alice)

    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "job_files_removed"


def test_a_batch_whose_texts_pass_the_quota_keeps_none_of_them(api: TestClient, services: Services) -> None:
    alice = user(services, "alice")
    items = [{"text": "a" * 6_000}, {"text": "b" * 6_000}]  # the second would pass the 10,000 bytes

    refused = api.post("/api/v1/batches", json={"pipeline": "synthesize", "items": items}, headers=alice)

    assert refused.status_code == 413, refused.text
    assert refused.json()["error"]["code"] == "storage_quota_exceeded"
    assert stored(api, alice) == (0, QUOTA)
    assert upload_keys(services) == []
