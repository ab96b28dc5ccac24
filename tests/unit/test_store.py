"""The job store on SQLite: submit, claim under a lease, fencing, retries, cancellation, reaping, listing."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest

from helpers.clock import FakeClock
from mediajobs.domain import LOCAL_USER_ID, ErrorInfo, Job, JobStatus, StageStatus
from mediajobs.errors import Conflict, InvalidRequest, LeaseLost, NotFound
from mediajobs.pipelines import get_pipeline, shipped_pipelines
from mediajobs.store import ArtifactRecord, Claim, JobStore, OutboxMessage, Refusal, create_db_engine

LEASE = 5.0


def submit(store: JobStore, source: str = "https://example.com/talk.mp3", **kwargs: object) -> Job:
    job, created = store.jobs.create_job(
        owner_id=LOCAL_USER_ID,
        pipeline=get_pipeline("transcribe"),
        source=source,
        options={"language": "en"},
        **kwargs,  # type: ignore[arg-type]
    )
    assert created
    return job


def claim(store: JobStore, job: Job, stage: str, worker: str = "worker-a") -> Claim:
    result = store.stages.claim_stage(job.id, stage, worker=worker, lease_seconds=LEASE)
    assert isinstance(result, Claim), result
    return result


def take_due(store: JobStore) -> list[OutboxMessage]:
    """Take every due outbox message and mark it sent (what a dispatcher does with a working broker)."""
    with store.outbox.outbox_batch() as batch:
        for message in batch.messages:
            batch.mark_sent(message)
    return list(batch.messages)


def run_through(store: JobStore, job: Job, *stages: str) -> None:
    for name in stages:
        store.stages.complete_stage(claim(store, job, name), {"stage": name})


def statuses(job: Job) -> dict[str, StageStatus]:
    return {s.name: s.status for s in job.stages}


# -- submit --------------------------------------------------------------------------------------


def test_create_job_writes_stages_and_one_outbox_message(store: JobStore, clock: FakeClock) -> None:
    job = submit(store)

    assert job.status is JobStatus.QUEUED
    assert job.owner_id == LOCAL_USER_ID
    assert job.options == {"language": "en"}
    assert job.created_at == clock.now
    assert job.progress == 0.0
    assert statuses(job) == {
        "ingest": StageStatus.QUEUED,
        "normalize": StageStatus.PENDING,
        "transcribe": StageStatus.PENDING,
    }
    assert job.stage("ingest").available_at == clock.now
    assert store.jobs.get_job(job.id) == job
    assert len(store.outbox.unsent_ids(job.id)) == 1
    [message] = take_due(store)
    assert (message.job_id, message.stage, message.queue, message.fence) == (job.id, "ingest", "download", 0)


def test_queue_for_names_the_outbox_queue(sqlite_url: str, clock: FakeClock) -> None:
    engine = create_db_engine(sqlite_url)
    try:
        store = JobStore(
            engine,
            clock=clock,
            queue_for=lambda lane, kind: f"t1.{kind}",
            pipelines=shipped_pipelines(noop=True),
        )
        submit(store)
        assert [m.queue for m in take_due(store)] == ["t1.download"]
    finally:
        engine.dispose()


def test_idempotent_replay_returns_the_same_job(store: JobStore) -> None:
    first, created = store.jobs.create_job(
        owner_id=LOCAL_USER_ID,
        pipeline=get_pipeline("transcribe"),
        source="https://example.com/a.mp3",
        options={},
        idempotency_key="key-1",
        request_hash="hash-1",
    )
    again, created_again = store.jobs.create_job(
        owner_id=LOCAL_USER_ID,
        pipeline=get_pipeline("transcribe"),
        source="https://example.com/a.mp3",
        options={},
        idempotency_key="key-1",
        request_hash="hash-1",
    )

    assert created
    assert not created_again
    assert again.id == first.id
    assert store.outbox.pending_outbox_count() == 1
    assert len(store.jobs.list_jobs(owner_id=LOCAL_USER_ID).jobs) == 1


def test_same_idempotency_key_with_another_body_is_a_conflict(store: JobStore) -> None:
    store.jobs.create_job(
        owner_id=LOCAL_USER_ID,
        pipeline=get_pipeline("transcribe"),
        source="https://example.com/a.mp3",
        options={},
        idempotency_key="key-1",
        request_hash="hash-1",
    )

    with pytest.raises(Conflict) as info:
        store.jobs.create_job(
            owner_id=LOCAL_USER_ID,
            pipeline=get_pipeline("transcribe"),
            source="https://example.com/b.mp3",
            options={},
            idempotency_key="key-1",
            request_hash="hash-2",
        )

    assert info.value.code == "idempotency_key_reused"
    assert len(store.jobs.list_jobs(owner_id=LOCAL_USER_ID).jobs) == 1


# -- claims --------------------------------------------------------------------------------------


def test_claim_takes_the_stage_under_a_lease(store: JobStore, clock: FakeClock) -> None:
    job = submit(store)

    got = claim(store, job, "ingest")

    assert got.fence == 1
    assert got.attempt == 1
    assert got.worker == "worker-a"
    assert got.inputs == {}
    assert got.stage.status is StageStatus.RUNNING
    assert got.stage.lease_owner == "worker-a"
    assert got.stage.lease_expires_at == clock.now + timedelta(seconds=LEASE)
    assert got.job.status is JobStatus.RUNNING
    assert got.job.current_stage == "ingest"
    assert got.job.started_at == clock.now


def test_second_claim_of_a_leased_stage_is_refused(store: JobStore, clock: FakeClock) -> None:
    job = submit(store)
    claim(store, job, "ingest")
    clock.advance(LEASE - 1)

    refusal = store.stages.claim_stage(job.id, "ingest", worker="worker-b", lease_seconds=LEASE)

    assert refusal is Refusal.LEASED


def test_claim_of_a_pending_stage_is_not_ready(store: JobStore) -> None:
    job = submit(store)

    assert store.stages.claim_stage(job.id, "normalize", worker="w", lease_seconds=LEASE) is Refusal.NOT_READY
    assert (
        store.stages.claim_stage(job.id, "transcribe", worker="w", lease_seconds=LEASE) is Refusal.NOT_READY
    )


def test_claim_of_an_unknown_job(store: JobStore) -> None:
    assert store.stages.claim_stage(uuid.uuid4(), "ingest", worker="w", lease_seconds=LEASE) is Refusal.NO_JOB


# -- completing stages ---------------------------------------------------------------------------


def test_complete_stage_queues_the_next_stage_and_its_message(store: JobStore) -> None:
    job = submit(store)
    take_due(store)
    ingest = claim(store, job, "ingest")

    after = store.stages.complete_stage(ingest, {"media": "jobs/x/work/ingest/source.mp3"})

    assert statuses(after) == {
        "ingest": StageStatus.SUCCEEDED,
        "normalize": StageStatus.QUEUED,
        "transcribe": StageStatus.PENDING,
    }
    assert after.stage("ingest").output == {"media": "jobs/x/work/ingest/source.mp3"}
    assert after.stage("ingest").progress == 100.0
    assert after.stage("ingest").lease_owner is None
    assert after.current_stage == "normalize"
    assert after.progress == 12.5
    [message] = take_due(store)
    assert (message.stage, message.queue) == ("normalize", "media")
    normalize = claim(store, job, "normalize")
    # ingest's output, under the name pipelines/transcribe.py gives it for normalize's code
    assert normalize.inputs == {"media": {"media": "jobs/x/work/ingest/source.mp3"}}


def test_completing_the_last_stage_succeeds_the_job_once(store: JobStore, clock: FakeClock) -> None:
    job = submit(store)
    run_through(store, job, "ingest", "normalize")
    last = claim(store, job, "transcribe")
    clock.advance(3)

    done = store.stages.complete_stage(last, {"segments": 3})

    assert done.status is JobStatus.SUCCEEDED
    assert done.progress == 100.0
    assert done.current_stage is None
    assert done.finished_at == clock.now
    assert done.error is None
    assert all(s.status is StageStatus.SUCCEEDED for s in done.stages)

    clock.advance(3)
    with pytest.raises(LeaseLost):
        store.stages.complete_stage(last, {"segments": 99})
    after = store.jobs.get_job(job.id)
    assert after.status is JobStatus.SUCCEEDED
    assert after.finished_at == done.finished_at  # no second transition
    assert after.stage("transcribe").output == {"segments": 3}
    assert store.stages.claim_stage(job.id, "ingest", worker="w", lease_seconds=LEASE) is Refusal.JOB_FINISHED
    with pytest.raises(LeaseLost):
        store.stages.fail_attempt(last, ErrorInfo(code="late", message="late"), retry_delay=None)
    assert store.jobs.get_job(job.id).status is JobStatus.SUCCEEDED


def test_complete_stage_records_artifacts(store: JobStore) -> None:
    job = submit(store)
    run_through(store, job, "ingest", "normalize")
    last = claim(store, job, "transcribe")

    store.stages.complete_stage(
        last,
        {"segments": 1},
        [
            ArtifactRecord(name="transcript.srt", content_type="application/x-subrip", size=10, key="a/s"),
            ArtifactRecord(name="transcript.json", content_type="application/json", size=20, key="a/j"),
        ],
    )

    assert [a.name for a in store.artifacts.list_artifacts(job.id)] == ["transcript.json", "transcript.srt"]
    assert store.artifacts.get_artifact(job.id, "transcript.srt").size == 10
    with pytest.raises(NotFound):
        store.artifacts.get_artifact(job.id, "transcript.vtt")


def test_redelivered_message_for_a_succeeded_stage_is_already_done(store: JobStore) -> None:
    job = submit(store)
    run_through(store, job, "ingest")

    refusal = store.stages.claim_stage(job.id, "ingest", worker="w", lease_seconds=LEASE)

    assert refusal is Refusal.ALREADY_DONE


# -- fencing -------------------------------------------------------------------------------------


def test_renew_lease_keeps_the_stage(store: JobStore, clock: FakeClock) -> None:
    job = submit(store)
    first = claim(store, job, "ingest")
    clock.advance(LEASE - 1)

    assert store.leases.renew_lease(first, LEASE) is False
    clock.advance(LEASE - 1)  # past the first expiry, within the renewed one

    assert (
        store.stages.claim_stage(job.id, "ingest", worker="worker-b", lease_seconds=LEASE) is Refusal.LEASED
    )


def test_expired_lease_is_taken_over_and_the_old_runner_is_fenced_off(
    store: JobStore, clock: FakeClock
) -> None:
    job = submit(store)
    first = claim(store, job, "ingest", worker="worker-a")
    clock.advance(LEASE + 1)

    second = claim(store, job, "ingest", worker="worker-b")

    assert second.fence == 2
    assert second.attempt == 2
    with pytest.raises(LeaseLost):
        store.leases.renew_lease(first, LEASE)
    with pytest.raises(LeaseLost):
        store.stages.report_progress(first, 50.0)
    with pytest.raises(LeaseLost):
        store.stages.complete_stage(first, {"from": "a"})
    with pytest.raises(LeaseLost):
        store.stages.fail_attempt(first, ErrorInfo(code="x", message="x"), retry_delay=1.0)

    assert store.stages.report_progress(second, 40.0) == 5.0
    done = store.stages.complete_stage(second, {"from": "b"})
    assert done.stage("ingest").output == {"from": "b"}
    attempts = store.jobs.list_attempts(job.id)
    assert [(a.number, a.worker, a.outcome) for a in attempts] == [
        (1, "worker-a", "lost"),
        (2, "worker-b", "succeeded"),
    ]
    assert attempts[0].error is not None
    assert attempts[0].error.code == "worker_lost"


def test_report_progress_returns_the_weighted_job_progress(store: JobStore) -> None:
    job = submit(store)
    run_through(store, job, "ingest", "normalize")
    transcribe = claim(store, job, "transcribe")

    overall = store.stages.report_progress(transcribe, 50.0)

    assert overall == 62.5
    assert store.jobs.get_job(job.id).progress == 62.5
    assert store.stages.report_progress(transcribe, 150.0) == 100.0  # a stage percent is clamped


# -- failures and retries ------------------------------------------------------------------------


def test_fail_attempt_with_a_delay_requeues_later(store: JobStore, clock: FakeClock) -> None:
    job = submit(store)
    take_due(store)
    first = claim(store, job, "ingest")
    error = ErrorInfo(code="http_503", message="server busy")

    after = store.stages.fail_attempt(first, error, retry_delay=30.0)

    ingest = after.stage("ingest")
    assert ingest.status is StageStatus.QUEUED
    assert ingest.available_at == clock.now + timedelta(seconds=30)
    assert ingest.error == error
    assert after.status is not JobStatus.FAILED
    assert store.outbox.pending_outbox_count() == 1
    assert take_due(store) == []  # not due yet
    assert store.stages.claim_stage(job.id, "ingest", worker="w", lease_seconds=LEASE) is Refusal.NOT_DUE

    clock.advance(29)
    assert take_due(store) == []
    clock.advance(1)
    [message] = take_due(store)
    assert message.stage == "ingest"

    retry = claim(store, job, "ingest")
    assert (retry.attempt, retry.fence) == (2, 2)
    assert [(a.number, a.outcome) for a in store.jobs.list_attempts(job.id)] == [(1, "retry"), (2, None)]


def test_fail_attempt_without_delay_fails_the_job(store: JobStore, clock: FakeClock) -> None:
    job = submit(store)  # its ingest message stays unsent
    first = claim(store, job, "ingest")
    error = ErrorInfo(code="unsupported_media", message="not audio")

    after = store.stages.fail_attempt(first, error, retry_delay=None)

    assert after.status is JobStatus.FAILED
    assert after.error == error
    assert after.finished_at == clock.now
    assert statuses(after) == {
        "ingest": StageStatus.FAILED,
        "normalize": StageStatus.SKIPPED,
        "transcribe": StageStatus.SKIPPED,
    }
    assert store.outbox.unsent_ids(job.id) == []
    [attempt] = store.jobs.list_attempts(job.id)
    assert attempt.outcome == "failed"
    assert attempt.error == error
    assert store.stages.claim_stage(job.id, "ingest", worker="w", lease_seconds=LEASE) is Refusal.JOB_FINISHED


def test_list_attempts_records_each_attempt(store: JobStore, clock: FakeClock) -> None:
    job = submit(store)
    first = claim(store, job, "ingest", worker="worker-a")
    store.stages.fail_attempt(first, ErrorInfo(code="timeout_fetch", message="slow"), retry_delay=1.0)
    clock.advance(2)
    second = claim(store, job, "ingest", worker="worker-b")
    store.stages.complete_stage(second, {})
    normalize = claim(store, job, "normalize", worker="worker-a")

    attempts = store.jobs.list_attempts(job.id)

    assert [(a.stage, a.number, a.worker, a.outcome) for a in attempts] == [
        ("ingest", 1, "worker-a", "retry"),
        ("ingest", 2, "worker-b", "succeeded"),
        ("normalize", 1, "worker-a", None),
    ]
    assert attempts[0].error == ErrorInfo(code="timeout_fetch", message="slow")
    assert attempts[1].error is None
    assert attempts[2].finished_at is None
    assert normalize.attempt == 1


# -- cancellation --------------------------------------------------------------------------------


def test_cancel_of_a_queued_job_is_immediate(store: JobStore, clock: FakeClock) -> None:
    job = submit(store)
    assert store.outbox.unsent_ids(job.id)

    after = store.jobs.request_cancel(job.id, LOCAL_USER_ID)

    assert after.status is JobStatus.CANCELLED
    assert after.cancel_requested_at == clock.now
    assert after.finished_at == clock.now
    assert after.error is not None
    assert after.error.code == "cancelled"
    assert all(s.status is StageStatus.CANCELLED for s in after.stages)
    assert store.outbox.unsent_ids(job.id) == []
    assert store.stages.claim_stage(job.id, "ingest", worker="w", lease_seconds=LEASE) is Refusal.JOB_FINISHED


def test_cancel_of_a_running_job_is_requested_then_finished_by_the_runner(
    store: JobStore, clock: FakeClock
) -> None:
    job = submit(store)
    running = claim(store, job, "ingest")

    requested = store.jobs.request_cancel(job.id)

    assert requested.status is JobStatus.RUNNING
    assert requested.cancel_requested_at == clock.now
    assert requested.stage("ingest").status is StageStatus.RUNNING
    assert store.leases.renew_lease(running, LEASE) is True

    ended = store.stages.cancel_stage(running)

    assert ended.status is JobStatus.CANCELLED
    assert all(s.status is StageStatus.CANCELLED for s in ended.stages)
    assert [a.outcome for a in store.jobs.list_attempts(job.id)] == ["cancelled"]


def test_cancel_requested_while_a_stage_completes_cancels_instead_of_moving_on(store: JobStore) -> None:
    job = submit(store)
    running = claim(store, job, "ingest")
    store.jobs.request_cancel(job.id)

    after = store.stages.complete_stage(running, {"media": "x"})

    assert after.status is JobStatus.CANCELLED
    assert after.stage("normalize").status is StageStatus.CANCELLED
    assert store.outbox.unsent_ids(job.id) == []


def test_retry_of_a_job_whose_cancel_was_requested_cancels_it(store: JobStore) -> None:
    job = submit(store)
    running = claim(store, job, "ingest")
    store.jobs.request_cancel(job.id)

    after = store.stages.fail_attempt(running, ErrorInfo(code="http_503", message="busy"), retry_delay=600.0)

    assert after.status is JobStatus.CANCELLED


def test_cancel_of_a_finished_job_is_a_conflict(store: JobStore) -> None:
    job = submit(store)
    store.jobs.request_cancel(job.id)

    with pytest.raises(Conflict) as info:
        store.jobs.request_cancel(job.id)

    assert info.value.code == "job_finished"


def test_cancel_of_another_owners_job_is_not_found(store: JobStore) -> None:
    job = submit(store)

    with pytest.raises(NotFound):
        store.jobs.request_cancel(job.id, "someone-else")
    assert store.jobs.get_job(job.id).status is JobStatus.QUEUED


# -- reaping expired leases ----------------------------------------------------------------------


def test_reaper_leaves_live_leases_alone(store: JobStore, clock: FakeClock) -> None:
    job = submit(store)
    claim(store, job, "ingest")
    clock.advance(LEASE - 1)

    assert store.leases.reap_expired_leases(max_attempts=3) == []
    assert store.jobs.get_job(job.id).stage("ingest").status is StageStatus.RUNNING


def test_reaper_requeues_an_expired_stage(store: JobStore, clock: FakeClock) -> None:
    job = submit(store)
    take_due(store)
    lost = claim(store, job, "ingest")
    clock.advance(LEASE + 1)

    [reaped] = store.leases.reap_expired_leases(max_attempts=3)

    assert (reaped.job_id, reaped.stage, reaped.requeued) == (job.id, "ingest", True)
    ingest = store.jobs.get_job(job.id).stage("ingest")
    assert ingest.status is StageStatus.QUEUED
    assert ingest.lease_owner is None
    [attempt] = store.jobs.list_attempts(job.id)
    assert attempt.outcome == "lost"
    assert attempt.finished_at == clock.now
    assert attempt.error is not None
    assert attempt.error.code == "worker_lost"
    [message] = take_due(store)
    assert message.stage == "ingest"
    with pytest.raises(LeaseLost):
        store.leases.renew_lease(lost, LEASE)
    again = claim(store, job, "ingest", worker="worker-b")
    assert again.attempt == 2
    assert again.fence > lost.fence


def test_reaper_fails_the_job_once_attempts_run_out(store: JobStore, clock: FakeClock) -> None:
    job = submit(store)
    outcomes: list[bool] = []
    for _ in range(3):
        claim(store, job, "ingest")
        clock.advance(LEASE + 1)
        outcomes.extend(r.requeued for r in store.leases.reap_expired_leases(max_attempts=3))

    assert outcomes == [True, True, False]
    after = store.jobs.get_job(job.id)
    assert after.status is JobStatus.FAILED
    assert after.error is not None
    assert after.error.code == "worker_lost"
    assert statuses(after) == {
        "ingest": StageStatus.FAILED,
        "normalize": StageStatus.SKIPPED,
        "transcribe": StageStatus.SKIPPED,
    }
    assert [a.outcome for a in store.jobs.list_attempts(job.id)] == ["lost", "lost", "lost"]
    assert store.stages.claim_stage(job.id, "ingest", worker="w", lease_seconds=LEASE) is Refusal.JOB_FINISHED


def test_reaper_cancels_a_job_whose_cancel_was_requested(store: JobStore, clock: FakeClock) -> None:
    job = submit(store)
    claim(store, job, "ingest")
    store.jobs.request_cancel(job.id)
    clock.advance(LEASE + 1)

    [reaped] = store.leases.reap_expired_leases(max_attempts=3)

    assert not reaped.requeued
    assert store.jobs.get_job(job.id).status is JobStatus.CANCELLED


# -- reading and listing -------------------------------------------------------------------------


def test_get_job_of_another_owner_is_not_found(store: JobStore) -> None:
    job = submit(store)

    assert store.jobs.get_job(job.id, LOCAL_USER_ID).id == job.id
    with pytest.raises(NotFound):
        store.jobs.get_job(job.id, "someone-else")
    with pytest.raises(NotFound):
        store.jobs.get_job(uuid.uuid4())


def test_list_jobs_pages_newest_first_without_gaps_or_duplicates(store: JobStore, clock: FakeClock) -> None:
    created = []
    for i in range(8):
        created.append(submit(store, source=f"https://example.com/{i}.mp3"))
        if i % 3 != 2:  # several jobs share a timestamp: the id breaks the tie
            clock.advance(1)
    expected = [j.id for j in sorted(created, key=lambda j: (j.created_at, j.id.hex), reverse=True)]

    seen: list[uuid.UUID] = []
    pages = 0
    cursor = None
    while True:
        page = store.jobs.list_jobs(owner_id=LOCAL_USER_ID, limit=3, cursor=cursor)
        pages += 1
        seen.extend(j.id for j in page.jobs)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        assert pages < 10

    assert pages == 3
    assert seen == expected
    assert [j.created_at for j in store.jobs.list_jobs(owner_id=LOCAL_USER_ID).jobs] == sorted(
        (j.created_at for j in created), reverse=True
    )


def test_list_jobs_exact_page_has_no_next_cursor(store: JobStore) -> None:
    for _ in range(3):
        submit(store)

    page = store.jobs.list_jobs(owner_id=LOCAL_USER_ID, limit=3)

    assert len(page.jobs) == 3
    assert page.next_cursor is None


def test_list_jobs_filters_by_status_and_pipeline(store: JobStore, clock: FakeClock) -> None:
    jobs = []
    for _ in range(5):
        jobs.append(submit(store))
        clock.advance(1)
    store.jobs.request_cancel(jobs[1].id)
    store.jobs.request_cancel(jobs[3].id)

    cancelled = store.jobs.list_jobs(owner_id=LOCAL_USER_ID, status=JobStatus.CANCELLED, limit=1)
    rest = store.jobs.list_jobs(
        owner_id=LOCAL_USER_ID, status=JobStatus.CANCELLED, cursor=cancelled.next_cursor
    )
    queued = store.jobs.list_jobs(owner_id=LOCAL_USER_ID, status=JobStatus.QUEUED)

    assert [j.id for j in cancelled.jobs + rest.jobs] == [jobs[3].id, jobs[1].id]
    assert [j.id for j in queued.jobs] == [jobs[4].id, jobs[2].id, jobs[0].id]
    assert len(store.jobs.list_jobs(owner_id=LOCAL_USER_ID, pipeline="transcribe").jobs) == 5
    assert store.jobs.list_jobs(owner_id=LOCAL_USER_ID, pipeline="dub").jobs == ()
    assert store.jobs.list_jobs(owner_id="someone-else").jobs == ()
    assert all(len(j.stages) == 3 for j in queued.jobs)


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("!!!", id="not-base64"),
        pytest.param("a", id="bad-padding"),
        pytest.param(_b64("no separator"), id="no-separator"),
        pytest.param(_b64("yesterday|" + str(uuid.UUID(int=5))), id="bad-timestamp"),
        pytest.param(_b64("2025-01-01T00:00:00+00:00|not-a-uuid"), id="bad-id"),
        pytest.param(base64.urlsafe_b64encode(b"\xff\xfe|\x00").decode(), id="not-utf8"),
    ],
)
def test_list_jobs_malformed_cursor_is_invalid(store: JobStore, cursor: str) -> None:
    submit(store)

    with pytest.raises(InvalidRequest) as info:
        store.jobs.list_jobs(owner_id=LOCAL_USER_ID, cursor=cursor)

    assert info.value.code == "invalid_cursor"


def test_list_jobs_cursor_with_a_naive_timestamp_is_invalid(store: JobStore) -> None:
    submit(store)
    cursor = _b64(f"2025-01-01T00:00:00|{uuid.UUID(int=5)}")

    with pytest.raises(InvalidRequest):
        store.jobs.list_jobs(owner_id=LOCAL_USER_ID, cursor=cursor)


# -- uploads -------------------------------------------------------------------------------------


def test_uploads_are_owned(store: JobStore) -> None:
    upload_id = uuid.uuid4()
    made = store.uploads.create_upload(
        upload_id=upload_id,
        owner_id=LOCAL_USER_ID,
        filename="talk.mp3",
        content_type="audio/mpeg",
        size=3,
        sha256="ab" * 32,
        key=f"uploads/{upload_id}/talk.mp3",
    )

    assert store.uploads.get_upload(upload_id, LOCAL_USER_ID) == made
    with pytest.raises(NotFound):
        store.uploads.get_upload(upload_id, "someone-else")
    with pytest.raises(NotFound):
        store.uploads.get_upload(uuid.uuid4())
