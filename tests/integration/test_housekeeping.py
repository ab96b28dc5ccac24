"""The periodic tasks on PostgreSQL and SQLite: at most once per period however many beats send them,
the cleanup of old jobs and orphan uploads, the monthly roll-over, the hourly usage reconciliation."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from helpers.clock import FakeClock
from helpers.settings import make_settings
from mediajobs.domain import JobStatus
from mediajobs.housekeeping import Housekeeping
from mediajobs.pipelines import get_pipeline, shipped_pipelines
from mediajobs.settings import Settings
from mediajobs.storage import LocalStorage, Workspace, artifact_key, upload_key
from mediajobs.store import ArtifactRecord, Claim, JobStore, create_db_engine
from mediajobs.store.tables import UsageRow

START = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)


@dataclass
class House:
    store: JobStore
    storage: LocalStorage
    workspace: Workspace
    clock: FakeClock
    settings: Settings

    def keeper(self) -> Housekeeping:
        return Housekeeping(self.store, self.storage, self.workspace, self.settings)

    def finished_job(self, *, media_seconds: float = 30.0) -> uuid.UUID:
        job, _ = self.store.jobs.create_job(
            owner_id="local",
            pipeline=get_pipeline("transcribe"),
            source="https://example.com/a.mp3",
            options={},
        )
        for stage in ("ingest", "normalize", "transcribe"):
            claim = self.store.stages.claim_stage(job.id, stage, worker="w", lease_seconds=30)
            assert isinstance(claim, Claim)
            records = []
            if stage == "transcribe":
                key = artifact_key(job.id, "transcript.txt", version=claim.fence)
                stored = self.storage.write(key, [b"hello\n"])
                records.append(
                    ArtifactRecord(
                        name="transcript.txt", content_type="text/plain", size=stored.size, key=key
                    )
                )
            output = {"duration": media_seconds} if stage == "normalize" else {}
            self.store.stages.complete_stage(claim, output, records)
        return job.id


@pytest.fixture(params=["postgresql", "sqlite"])
def house(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[House]:
    url = request.getfixturevalue("pg_url" if request.param == "postgresql" else "sqlite_url")
    clock = FakeClock(START)
    engine = create_db_engine(url)
    store = JobStore(engine, clock=clock, pipelines=shipped_pipelines(noop=True))
    yield House(
        store=store,
        storage=LocalStorage(tmp_path / "storage"),
        workspace=Workspace(tmp_path / "work"),
        clock=clock,
        settings=make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=url),
    )
    engine.dispose()


@pytest.mark.parametrize("task", ["rollover", "usage", "cleanup"])
def test_each_task_runs_once_per_period_however_many_beats_send_it(house: House, task: str) -> None:
    results: list[object] = []
    barrier = threading.Barrier(4)

    def beat() -> None:  # four beat processes sending the same task at the same moment
        barrier.wait(10)
        results.append(house.keeper().run(task))

    threads = [threading.Thread(target=beat) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sum(r is not None for r in results) == 1
    assert [period for period, _ in house.store.periodic.runs(task)] == [
        {"rollover": "2026-03", "usage": "2026-03-31T22", "cleanup": "2026-03-31"}[task]
    ]
    house.clock.advance({"rollover": 31 * 86400, "usage": 3600, "cleanup": 86400}[task])
    assert house.keeper().run(task) is not None  # the next period runs again
    assert house.keeper().run(task) is None


def test_cleanup_removes_old_jobs_files_and_orphan_uploads_and_marks_them_expired(house: House) -> None:
    old = house.finished_job()
    used_upload = uuid.uuid4()
    orphan = uuid.uuid4()
    for upload_id in (used_upload, orphan):
        key = upload_key(upload_id, "talk.wav")
        house.storage.write(key, [b"RIFF"])
        house.store.uploads.create_upload(
            upload_id=upload_id, owner_id="local", filename="talk.wav", content_type="audio/wav", size=4,
            sha256="0" * 64, key=key,
        )  # fmt: skip
    house.store.jobs.create_job(
        owner_id="local", pipeline=get_pipeline("transcribe"), source=f"upload://{used_upload}", options={}
    )
    stale_scratch = house.workspace.fresh(uuid.uuid4(), "normalize")
    house.clock.advance(8 * 86400)  # past the 7-day retention
    recent = house.finished_job()

    did = house.keeper().run("cleanup")

    assert did is not None
    assert (did["jobs_expired"], did["objects_removed"], did["orphan_uploads_removed"]) == (1, 1, 1)
    assert house.store.jobs.get_job(old).status is JobStatus.EXPIRED
    assert house.store.artifacts.list_artifacts(old) == ()
    assert house.storage.list(f"jobs/{old}/") == []
    assert house.store.jobs.get_job(recent).status is JobStatus.SUCCEEDED  # within the retention: kept
    assert house.storage.list(f"jobs/{recent}/") != []
    assert house.storage.list(f"uploads/{orphan}/") == []
    assert house.storage.list(f"uploads/{used_upload}/") != []  # a job still names it
    assert did["scratch_folders_removed"] == 0 or not stale_scratch.exists()
    events = house.store.events.job_events(old)
    assert events[-1].status == "expired"
    assert events[-1].final


def test_rollover_opens_a_new_period_and_keeps_the_old_one(house: House) -> None:
    house.finished_job(media_seconds=90.0)
    assert house.store.users.usage("local").jobs == 1
    house.clock.advance(2 * 3600)  # April 1st, 00:30

    did = house.keeper().run("rollover")

    assert did is not None
    assert did["users_carried"] == 1
    assert house.store.users.usage("local", "2026-03").media_seconds == 90.0  # the record stays
    april = house.store.users.usage("local")
    assert (april.period, april.jobs, april.media_seconds) == ("2026-04", 0, 0.0)


def test_usage_reconciliation_corrects_drift_from_the_job_table(house: House) -> None:
    house.finished_job(media_seconds=30.0)
    house.finished_job(media_seconds=12.5)
    with house.store.engine.begin() as conn:  # a lost update, a crash between two writes...
        conn.execute(update(UsageRow).values(jobs=7, media_seconds=1.0))

    did = house.keeper().run("usage")

    assert did is not None
    assert did["corrected"] == 1
    usage = house.store.users.usage("local")
    assert (usage.jobs, usage.media_seconds) == (2, 42.5)
    house.clock.advance(1800)  # the next hour, still March 31st: nothing has drifted since
    again = house.keeper().run("usage")
    assert again is not None
    assert (again["users"], again["corrected"]) == (1, 0)


def test_the_beat_schedule_runs_the_housekeeping_on_utc_calendar_times(tmp_path: Path) -> None:
    from mediajobs.queue.schedule import PERIODIC, beat_schedule

    schedule = beat_schedule(make_settings(tmp_path))
    periodic = {
        entry["args"][0]: entry["schedule"] for entry in schedule.values() if entry["task"] == PERIODIC
    }
    assert set(periodic) == {"rollover", "usage", "cleanup"}
    start = datetime(2026, 5, 31, 23, 59, tzinfo=UTC)
    assert periodic["rollover"].remaining_estimate(start) <= timedelta(minutes=1, seconds=1)  # June 1st 00:00
    assert periodic["cleanup"].hour == {2}
    assert periodic["usage"].minute == {0}
