"""The runner end to end on SQLite and the in-memory broker, with tiny stage functions of the test's own."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError, PendingRollbackError

from helpers.clock import FakeClock
from helpers.hooks import Recorder
from helpers.settings import make_settings
from mediajobs.domain import LOCAL_USER_ID, Job, JobStatus, PipelineRegistry, RetryPolicy, StageStatus
from mediajobs.drain import Drain
from mediajobs.engines import SPEECH_TO_TEXT, Engines, SpeechToText
from mediajobs.errors import (
    PermanentError,
    RetryableError,
    StageError,
    StorageUnavailable,
    StoreUnavailable,
    UnsupportedMedia,
)
from mediajobs.hooks import LostLease, StageFinished
from mediajobs.pipelines import get_pipeline
from mediajobs.queue.dispatcher import Dispatcher
from mediajobs.queue.memory import InMemoryPublisher
from mediajobs.runner import Runner, ThrottledProgress
from mediajobs.settings import Settings
from mediajobs.stages import ArtifactFile, CancelToken, StageContext, StageFn, StageResult
from mediajobs.storage import InMemoryStorage, Workspace, artifact_key, read_bytes
from mediajobs.store import ArtifactRecord, Claim, JobStore, Refusal, create_db_engine

MAX_RETRIES = 2
RETRY_CAP = 4.0


def no_speech_to_text() -> SpeechToText:
    raise AssertionError("these tests' stages never ask for a speech-to-text engine")


@dataclass(frozen=True, kw_only=True, slots=True)
class CeilingRetry(RetryPolicy):
    """The retry policy without its jitter: always the ceiling, so delays are known to the test."""

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        return min(self.cap, self.base * 2.0 ** max(0, attempt - 1))


def no_heartbeat(settings: Settings) -> Settings:
    """Settings whose heartbeat never fires within a test, so moving the fake clock decides the lease."""
    return settings.model_copy(update={"heartbeat_seconds": 3600.0})


class SoftTimeLimit(Exception):
    """Stands in for the exception a Celery soft time limit raises inside the task."""


@dataclass
class Stages:
    """Stage functions that record how they were called; each can be replaced per test."""

    calls: Counter[str] = field(default_factory=Counter)
    inputs: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    attempts: dict[str, list[int]] = field(default_factory=dict)
    behaviour: dict[str, Callable[[StageContext], StageResult]] = field(default_factory=dict)

    def pipelines(self) -> PipelineRegistry:
        """The transcribe pipeline with this recorder's functions as the code of its stages."""
        shipped = get_pipeline("transcribe")
        stages = tuple(replace(spec, code=self._stage(spec.name)) for spec in shipped.stages)
        return PipelineRegistry([replace(shipped, stages=stages)])

    def _stage(self, name: str) -> StageFn:
        def run(ctx: StageContext) -> StageResult:
            self.calls[name] += 1
            self.inputs.setdefault(name, []).append({k: dict(v) for k, v in ctx.inputs.items()})
            self.attempts.setdefault(name, []).append(ctx.attempt)
            if name in self.behaviour:
                return self.behaviour[name](ctx)
            return default_stage(name, ctx)

        return run


def default_stage(name: str, ctx: StageContext) -> StageResult:
    if name == "transcribe":
        text = ctx.work_dir / "transcript.txt"
        text.write_text("hello world\n")
        return StageResult(
            output={"segments": 1},
            artifacts=[ArtifactFile(name="transcript.txt", path=text, content_type="text/plain")],
        )
    return StageResult(output={"made_by": name, "path": f"{name}.out"})


@dataclass
class Harness:
    store: JobStore
    storage: InMemoryStorage
    workspace: Workspace
    publisher: InMemoryPublisher
    dispatcher: Dispatcher
    runner: Runner
    clock: FakeClock
    stages: Stages
    settings: Settings

    def submit(self) -> Job:
        job, _ = self.dispatcher.settled(
            self.store.jobs.create_job,
            owner_id=LOCAL_USER_ID,
            pipeline=self.store.pipelines.get_pipeline("transcribe"),
            source="https://example.com/talk.mp3",
            options={"language": "en"},
        )
        return job

    def drain(self) -> int:
        return self.publisher.drain(self.runner.run)

    def job(self, job_id: uuid.UUID) -> Job:
        return self.store.jobs.get_job(job_id)

    def run_to_end(self, job_id: uuid.UUID, *, rounds: int = 20) -> Job:
        """Deliver messages, let retry backoffs elapse, publish what fell due, until the job ends."""
        for _ in range(rounds):
            self.drain()
            job = self.job(job_id)
            if job.status.terminal:
                return job
            self.clock.advance(RETRY_CAP + 1)
            self.dispatcher.dispatch_due()
        raise AssertionError(f"job {job_id} did not finish in {rounds} rounds")

    def with_runner(self, **changes: object) -> Runner:
        values = dict(
            store=self.store,
            storage=self.storage,
            workspace=self.workspace,
            settings=self.settings,
            engines=self.runner.engines,
            dispatcher=self.dispatcher,
            retry_policy=self.runner.retry_policy,
            worker_id="worker-test",
        )
        values.update(changes)
        self.runner = Runner(**values)  # type: ignore[arg-type]
        return self.runner


@pytest.fixture
def harness(tmp_path: Path, sqlite_url: str) -> Iterator[Harness]:
    settings = make_settings(tmp_path, MEDIAJOBS_DATABASE_URL=sqlite_url, MEDIAJOBS_HEARTBEAT_SECONDS=0.05)
    clock = FakeClock()
    engine = create_db_engine(sqlite_url)
    stages = Stages()
    store = JobStore(engine, clock=clock, pipelines=stages.pipelines())
    storage = InMemoryStorage()
    workspace = Workspace(tmp_path / "work")
    publisher = InMemoryPublisher()
    dispatcher = Dispatcher(store, publisher)
    retry = CeilingRetry(max_retries=MAX_RETRIES, base=1.0, cap=RETRY_CAP)
    runner = Runner(
        store=store,
        dispatcher=dispatcher,  # publishes after each commit, as a worker's does
        storage=storage,
        workspace=workspace,
        settings=settings,
        engines=Engines().register(SPEECH_TO_TEXT, no_speech_to_text),
        retry_policy=lambda pipeline: retry,
        worker_id="worker-test",
    )
    yield Harness(
        store=store,
        storage=storage,
        workspace=workspace,
        publisher=publisher,
        dispatcher=dispatcher,
        runner=runner,
        clock=clock,
        stages=stages,
        settings=settings,
    )
    engine.dispose()


# -- the happy path ------------------------------------------------------------------------------


def test_a_job_runs_through_every_stage(harness: Harness) -> None:
    job = harness.submit()

    delivered = harness.drain()

    done = harness.job(job.id)
    assert delivered == 3
    assert done.status is JobStatus.SUCCEEDED
    assert done.progress == 100.0
    assert [s.status for s in done.stages] == [StageStatus.SUCCEEDED] * 3
    assert harness.stages.calls == Counter(ingest=1, normalize=1, transcribe=1)
    assert [(a.stage, a.number, a.outcome) for a in harness.store.jobs.list_attempts(job.id)] == [
        ("ingest", 1, "succeeded"),
        ("normalize", 1, "succeeded"),
        ("transcribe", 1, "succeeded"),
    ]


def test_each_stage_receives_the_outputs_it_needs_under_the_names_its_pipeline_gives_them(
    harness: Harness,
) -> None:
    job = harness.submit()

    harness.drain()

    assert harness.stages.inputs == {  # pipelines/transcribe.py: normalize reads `media`, transcribe `audio`
        "ingest": [{}],
        "normalize": [{"media": {"made_by": "ingest", "path": "ingest.out"}}],
        "transcribe": [{"audio": {"made_by": "normalize", "path": "normalize.out"}}],
    }
    assert harness.job(job.id).stage("transcribe").output == {"segments": 1}


def test_artifacts_are_moved_into_place_and_recorded(harness: Harness) -> None:
    job = harness.submit()

    harness.drain()

    [artifact] = harness.store.artifacts.list_artifacts(job.id)
    assert (artifact.name, artifact.content_type, artifact.size) == ("transcript.txt", "text/plain", 12)
    assert read_bytes(harness.storage, artifact.key).decode() == "hello world\n"
    # each attempt writes under its fencing token, so a stale runner cannot overwrite this file
    assert (
        artifact.key
        == f"jobs/{job.id}/artifacts/v{harness.job(job.id).stage('transcribe').fence}/transcript.txt"
    )
    assert not harness.workspace.folder(job.id, "transcribe").exists()


def test_stages_are_published_to_their_kinds_queue(harness: Harness) -> None:
    harness.submit()

    harness.drain()

    assert [(m.stage, m.queue) for m in harness.publisher.published] == [
        ("ingest", "download"),
        ("normalize", "media"),
        ("transcribe", "transcribe"),
    ]


# -- retries and failures ------------------------------------------------------------------------


def test_a_retryable_error_is_retried_after_a_delay(harness: Harness) -> None:
    def flaky(ctx: StageContext) -> StageResult:
        if ctx.attempt == 1:
            raise RetryableError("connection reset", code="network_error")
        return default_stage("ingest", ctx)

    harness.stages.behaviour["ingest"] = flaky
    job = harness.submit()

    harness.drain()

    waiting = harness.job(job.id)
    ingest = waiting.stage("ingest")
    assert ingest.status is StageStatus.QUEUED
    assert ingest.available_at == harness.clock.now + timedelta(seconds=1.0)  # base * 2**0
    assert ingest.error is not None
    assert ingest.error.code == "network_error"
    assert not harness.publisher.messages  # the retry is not due yet
    assert harness.dispatcher.dispatch_due() == 0

    harness.clock.advance(1.0)
    assert harness.dispatcher.dispatch_due() == 1
    harness.drain()

    done = harness.job(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.stage("ingest").attempts == 2
    assert done.stage("ingest").error is None
    assert harness.stages.attempts["ingest"] == [1, 2]
    assert [(a.stage, a.number, a.outcome) for a in harness.store.jobs.list_attempts(job.id)][:2] == [
        ("ingest", 1, "retry"),
        ("ingest", 2, "succeeded"),
    ]


def test_an_unreachable_object_store_is_retried_like_any_transient_failure(harness: Harness) -> None:
    def store_away(ctx: StageContext) -> StageResult:
        if ctx.attempt == 1:
            raise StorageUnavailable("object store unreachable (uploads/x): connection refused")
        return default_stage("ingest", ctx)

    harness.stages.behaviour["ingest"] = store_away
    job = harness.submit()
    harness.drain()

    ingest = harness.job(job.id).stage("ingest")
    assert ingest.status is StageStatus.QUEUED
    assert ingest.error is not None
    assert ingest.error.code == "storage_unavailable"
    assert ingest.error.retryable
    harness.clock.advance(1.0)
    assert harness.dispatcher.dispatch_due() == 1
    harness.drain()
    assert harness.job(job.id).status is JobStatus.SUCCEEDED


def test_retry_after_sets_the_earliest_next_attempt(harness: Harness) -> None:
    def throttled(ctx: StageContext) -> StageResult:
        raise RetryableError("HTTP 429", code="http_429", retry_after=3.5)

    harness.stages.behaviour["ingest"] = throttled
    job = harness.submit()
    started = harness.clock.now

    harness.drain()

    ingest = harness.job(job.id).stage("ingest")
    assert ingest.status is StageStatus.QUEUED
    assert ingest.available_at == started + timedelta(seconds=3.5)  # above the 1 s backoff


def test_a_retryable_error_every_time_gives_up_after_max_retries(harness: Harness) -> None:
    def always_down(ctx: StageContext) -> StageResult:
        raise RetryableError("HTTP 503 from origin", code="http_503")

    harness.stages.behaviour["normalize"] = always_down
    job = harness.submit()

    done = harness.run_to_end(job.id)

    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert done.error.code == "http_503"
    assert f"gave up after {MAX_RETRIES + 1} attempts" in done.error.message
    assert done.error.retryable is True  # it may pass another time
    assert harness.stages.calls["normalize"] == MAX_RETRIES + 1
    assert harness.stages.calls["transcribe"] == 0
    assert [a.outcome for a in harness.store.jobs.list_attempts(job.id) if a.stage == "normalize"] == [
        "retry",
        "retry",
        "failed",
    ]
    assert done.stage("transcribe").status is StageStatus.SKIPPED


@pytest.mark.parametrize(
    ("error", "code"),
    [
        pytest.param(PermanentError("HTTP 404 from origin"), "permanent_error", id="permanent"),
        pytest.param(PermanentError("gone", code="http_410"), "http_410", id="permanent-own-code"),
        pytest.param(UnsupportedMedia("not audio or video"), "unsupported_media", id="unsupported-media"),
    ],
)
def test_a_permanent_error_fails_at_once(harness: Harness, error: StageError, code: str) -> None:
    def broken(ctx: StageContext) -> StageResult:
        raise error

    harness.stages.behaviour["normalize"] = broken
    job = harness.submit()

    harness.drain()

    done = harness.job(job.id)
    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert done.error.code == code
    assert done.error.message == error.message
    assert done.error.retryable is False  # it would fail again: `retry --failed` skips it
    assert done.stage("normalize").error == done.error
    assert harness.stages.calls == Counter(ingest=1, normalize=1)
    assert done.stage("normalize").attempts == 1
    assert done.stage("normalize").status is StageStatus.FAILED
    assert done.stage("transcribe").status is StageStatus.SKIPPED
    assert harness.store.outbox.pending_outbox_count() == 0


def test_an_unexpected_exception_fails_with_internal_error(harness: Harness) -> None:
    def buggy(ctx: StageContext) -> StageResult:
        segments: list[str] = []
        return StageResult(output={"first": segments[0]})

    harness.stages.behaviour["ingest"] = buggy
    job = harness.submit()

    harness.drain()

    done = harness.job(job.id)
    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert done.error.code == "internal_error"
    assert "IndexError" in done.error.message
    assert done.error.retryable is True  # a bug, not the input's fault: a retry after a fix may pass
    assert harness.stages.calls["ingest"] == 1


def test_a_timeout_error_type_fails_with_code_timeout(harness: Harness) -> None:
    def slow(ctx: StageContext) -> StageResult:
        raise SoftTimeLimit()

    harness.stages.behaviour["transcribe"] = slow
    harness.with_runner(timeout_errors=(SoftTimeLimit,))
    job = harness.submit()

    harness.drain()

    done = harness.job(job.id)
    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert done.error.code == "timeout"
    assert done.error.retryable is False  # as StageTimeout: the same input runs as long again
    assert harness.stages.calls["transcribe"] == 1
    assert done.stage("transcribe").attempts == 1


def test_without_timeout_errors_the_same_exception_is_internal(harness: Harness) -> None:
    def slow(ctx: StageContext) -> StageResult:
        raise SoftTimeLimit()

    harness.stages.behaviour["ingest"] = slow
    job = harness.submit()

    harness.drain()

    error = harness.job(job.id).error
    assert error is not None
    assert error.code == "internal_error"


# -- cancellation --------------------------------------------------------------------------------


def test_cancelling_a_running_stage_stops_it(harness: Harness) -> None:
    started = threading.Event()
    woke: list[bool] = []
    seen_while_running: list[Job] = []

    def blocking(ctx: StageContext) -> StageResult:
        started.set()
        woke.append(ctx.cancel.wait(10.0))
        ctx.cancel.raise_if_set()
        return default_stage("normalize", ctx)

    def cancel_when_started() -> None:
        if started.wait(10.0):
            seen_while_running.append(harness.store.jobs.request_cancel(job.id))

    harness.stages.behaviour["normalize"] = blocking
    job = harness.submit()
    canceller = threading.Thread(target=cancel_when_started)
    canceller.start()
    try:
        harness.drain()
    finally:
        canceller.join(timeout=10)

    assert woke == [True]  # woken by the cancel, not by the 10 s timeout
    [requested] = seen_while_running
    assert requested.status is JobStatus.RUNNING
    assert requested.cancel_requested_at is not None
    done = harness.job(job.id)
    assert done.status is JobStatus.CANCELLED
    assert [s.status for s in done.stages] == [
        StageStatus.SUCCEEDED,
        StageStatus.CANCELLED,
        StageStatus.CANCELLED,
    ]
    assert harness.stages.calls["transcribe"] == 0
    assert [a.outcome for a in harness.store.jobs.list_attempts(job.id)] == ["succeeded", "cancelled"]


def test_a_message_for_a_cancelled_job_is_refused(harness: Harness) -> None:
    job = harness.submit()
    harness.store.jobs.request_cancel(job.id)

    outcome = harness.runner.run(job.id, "ingest")

    assert outcome.outcome == "refused"
    assert outcome.refusal is Refusal.JOB_FINISHED
    assert harness.stages.calls["ingest"] == 0


# -- redelivery and lost leases ------------------------------------------------------------------


def test_a_redelivered_message_for_a_finished_stage_does_not_run_it_again(harness: Harness) -> None:
    job = harness.submit()
    message = harness.publisher.messages.popleft()
    first = harness.runner.run(message.job_id, message.stage)

    again = harness.runner.run(message.job_id, message.stage)
    harness.publisher.publish(message)  # the broker delivers a duplicate later on, too
    harness.drain()

    assert first.outcome == "succeeded"
    assert again.outcome == "refused"
    assert again.refusal is Refusal.ALREADY_DONE
    assert harness.stages.calls == Counter(ingest=1, normalize=1, transcribe=1)
    assert harness.job(job.id).status is JobStatus.SUCCEEDED


def test_a_runner_that_lost_its_lease_does_not_commit(harness: Harness) -> None:
    def overtaken(ctx: StageContext) -> StageResult:
        harness.clock.advance(harness.settings.lease_seconds + 1)
        other = harness.store.stages.claim_stage(ctx.job_id, "ingest", worker="worker-b", lease_seconds=5)
        assert isinstance(other, Claim)
        harness.store.stages.complete_stage(other, {"made_by": "worker-b"})
        return StageResult(output={"made_by": "worker-test"})

    harness.stages.behaviour["ingest"] = overtaken
    harness.with_runner(settings=no_heartbeat(harness.settings))
    job = harness.submit()
    message = harness.publisher.messages.popleft()

    outcome = harness.runner.run(message.job_id, message.stage)

    assert outcome.outcome == "lease_lost"
    after = harness.job(job.id)
    assert after.stage("ingest").output == {"made_by": "worker-b"}
    assert [(a.worker, a.outcome) for a in harness.store.jobs.list_attempts(job.id)] == [
        ("worker-test", "lost"),
        ("worker-b", "succeeded"),
    ]


def test_a_runner_that_lost_its_lease_does_not_overwrite_artifacts(harness: Harness) -> None:
    def overtaken(ctx: StageContext) -> StageResult:
        harness.clock.advance(harness.settings.lease_seconds + 1)
        other = harness.store.stages.claim_stage(ctx.job_id, "transcribe", worker="worker-b", lease_seconds=5)
        assert isinstance(other, Claim)
        theirs = ctx.work_dir / "theirs.txt"
        theirs.write_text("from worker-b\n")
        key = artifact_key(ctx.job_id, "transcript.txt", version=other.fence)
        stored = harness.storage.put_file(key, theirs)
        harness.store.stages.complete_stage(
            other,
            {"made_by": "worker-b"},
            [ArtifactRecord(name="transcript.txt", content_type="text/plain", size=stored.size, key=key)],
        )
        ours = ctx.work_dir / "ours.txt"
        ours.write_text("from the stale worker, much longer\n")
        return StageResult(
            output={"made_by": "worker-test"},
            artifacts=[ArtifactFile(name="transcript.txt", path=ours, content_type="text/plain")],
        )

    harness.stages.behaviour["transcribe"] = overtaken
    harness.with_runner(settings=no_heartbeat(harness.settings))
    job = harness.submit()

    harness.drain()

    assert harness.job(job.id).status is JobStatus.SUCCEEDED
    [artifact] = harness.store.artifacts.list_artifacts(job.id)
    assert read_bytes(harness.storage, artifact.key).decode() == "from worker-b\n"


# -- progress ------------------------------------------------------------------------------------


def test_stage_progress_reaches_the_job(harness: Harness) -> None:
    seen: list[float] = []

    def reporting(ctx: StageContext) -> StageResult:
        ctx.progress.report(50.0, "half way")
        seen.append(harness.job(ctx.job_id).progress)
        return default_stage("transcribe", ctx)

    harness.stages.behaviour["transcribe"] = reporting
    harness.submit()

    harness.drain()

    assert seen == [62.5]


def test_an_indeterminate_progress_report_keeps_the_last_percent(harness: Harness) -> None:
    job = harness.submit()
    claim = harness.store.stages.claim_stage(job.id, "ingest", worker="w", lease_seconds=5)
    assert isinstance(claim, Claim)
    progress = ThrottledProgress(store=harness.store, claim=claim, token=CancelToken(), min_interval=0.0)

    progress.report(60.0)
    progress.report(None, "still working")

    after = harness.job(job.id)
    assert after.stage("ingest").progress == 60.0
    assert after.progress == 7.5


# -- database outages ------------------------------------------------------------------------------


def test_a_failed_progress_write_does_not_fail_the_stage(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def database_gone(*_: object, **__: object) -> float:
        with harness.store.db.tx():  # the store turns the driver's error into StoreUnavailable
            raise OperationalError("UPDATE stage_runs", {}, Exception("server closed the connection"))

    def reporting(ctx: StageContext) -> StageResult:
        with monkeypatch.context() as patch:
            patch.setattr(harness.store.stages, "report_progress", database_gone)
            ctx.progress.report(50.0, "half way")
        return default_stage("ingest", ctx)

    harness.stages.behaviour["ingest"] = reporting
    job = harness.submit()

    harness.drain()

    assert harness.job(job.id).status is JobStatus.SUCCEEDED


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("COMMIT", {}, Exception("terminating connection due to administrator command")),
        PendingRollbackError("Can't reconnect until invalid transaction is rolled back"),
    ],
)
def test_a_lost_database_is_left_to_the_lease_path_not_recorded_as_a_failure(
    harness: Harness, error: Exception
) -> None:
    def unlucky(ctx: StageContext) -> StageResult:
        with harness.store.db.tx():  # a store call inside the stage meets the lost database
            raise error

    harness.stages.behaviour["ingest"] = unlucky
    job = harness.submit()

    with pytest.raises(StoreUnavailable):
        harness.drain()

    after = harness.job(job.id)
    assert after.status is JobStatus.RUNNING  # not failed: the lease expires and the reaper re-queues it
    assert after.stage("ingest").status is StageStatus.RUNNING
    harness.clock.advance(harness.settings.lease_seconds + 1)
    [reaped] = harness.store.leases.reap_expired_leases(max_attempts=5)
    assert reaped.requeued


# -- work files of stages that did not succeed ----------------------------------------------------


def _writes_then(ending: Callable[[StageContext], None]) -> Callable[[StageContext], StageResult]:
    def stage(ctx: StageContext) -> StageResult:
        (ctx.work_dir / "audio.wav.part").write_bytes(b"\0" * 4096)
        (ctx.work_dir / "nested").mkdir()
        (ctx.work_dir / "nested" / "x").write_bytes(b"x")
        ending(ctx)
        return StageResult(output={})

    return stage


def _fail(ctx: StageContext) -> None:
    raise UnsupportedMedia(f"cannot decode {ctx.work_dir / 'audio.wav.part'}")


def _time_out(ctx: StageContext) -> None:
    raise SoftTimeLimit()


def _crash(ctx: StageContext) -> None:
    raise RuntimeError(f"boom in {ctx.work_dir}")


@pytest.mark.parametrize("ending", [_fail, _time_out, _crash], ids=["failed", "timed-out", "crashed"])
def test_a_stage_that_fails_leaves_no_work_files(
    harness: Harness, ending: Callable[[StageContext], None]
) -> None:
    harness.with_runner(timeout_errors=(SoftTimeLimit,))
    harness.stages.behaviour["normalize"] = _writes_then(ending)
    job = harness.submit()

    finished = harness.run_to_end(job.id)

    assert finished.status is JobStatus.FAILED
    assert not harness.workspace.folder(job.id, "normalize").exists()
    assert not (harness.workspace.root / str(job.id)).exists()
    # and the message a client reads names no host folder
    assert finished.error is not None
    assert str(harness.workspace.root) not in finished.error.message
    assert str(harness.settings.data_dir) not in finished.error.message


def test_a_cancelled_stage_leaves_no_work_files(harness: Harness) -> None:
    def cancel_meanwhile(ctx: StageContext) -> None:
        harness.store.jobs.request_cancel(ctx.job_id)
        assert ctx.cancel.wait(5)  # the heartbeat saw the cancel
        ctx.cancel.raise_if_set()

    harness.stages.behaviour["normalize"] = _writes_then(cancel_meanwhile)
    job = harness.submit()

    finished = harness.run_to_end(job.id)

    assert finished.status is JobStatus.CANCELLED
    assert not (harness.workspace.root / str(job.id)).exists()


def test_the_hooks_hear_of_a_retry_and_of_a_lease_the_runner_lost(harness: Harness) -> None:
    recorder = Recorder()
    harness.with_runner(hooks=recorder, settings=no_heartbeat(harness.settings))

    def flaky(ctx: StageContext) -> StageResult:
        if ctx.attempt == 1:
            raise RetryableError("connection reset", code="network_error")
        harness.clock.advance(harness.settings.lease_seconds + 1)  # and now another worker takes it over
        other = harness.store.stages.claim_stage(ctx.job_id, "ingest", worker="worker-b", lease_seconds=5)
        assert isinstance(other, Claim)
        harness.store.stages.complete_stage(other, {"made_by": "worker-b"})
        return StageResult(output={})

    harness.stages.behaviour["ingest"] = flaky
    job = harness.submit()
    message = harness.publisher.messages.popleft()
    assert harness.runner.run(message.job_id, message.stage).outcome == "retry"
    harness.clock.advance(RETRY_CAP + 1)
    harness.dispatcher.dispatch_due()
    message = harness.publisher.messages.popleft()
    assert harness.runner.run(message.job_id, message.stage).outcome == "lease_lost"

    [retried] = recorder.of("stage_retried")
    assert isinstance(retried, StageFinished)
    assert (retried.stage.stage, retried.outcome, retried.error and retried.error.code) == (
        "ingest", "retry", "network_error",
    )  # fmt: skip
    assert retried.retry_in is not None
    assert 0 <= retried.retry_in <= RETRY_CAP
    [lost] = recorder.of("lease_lost")
    assert isinstance(lost, LostLease)
    assert (lost.job_id, lost.stage, lost.noticed_by) == (job.id, "ingest", "runner")


# -- drain -----------------------------------------------------------------------------------------


def test_a_stage_past_the_drain_grace_is_handed_back_and_queued_again_at_once(harness: Harness) -> None:
    """The worker stops (drain.py): the stage outruns the grace period, its token trips, and the stage
    is queued again under a new fence with its message sent, not counted against its retries."""
    started = threading.Event()
    drain = Drain(0.05)

    def long(ctx: StageContext) -> StageResult:
        started.set()
        drain.begin()  # SIGTERM arrives while it runs
        assert ctx.cancel.wait(10.0), "the grace period's end did not stop the stage"
        ctx.cancel.raise_if_set()
        return default_stage("normalize", ctx)

    harness.stages.behaviour["normalize"] = long
    job = harness.submit()
    draining = harness.with_runner(drain=drain)
    harness.publisher.deliver(draining.run)  # ingest
    outcome = draining.run(job.id, "normalize")
    harness.publisher.messages.popleft()  # the message that delivery stood for

    assert outcome.outcome == "handed_back"
    handed = harness.job(job.id)
    normalize = next(s for s in handed.stages if s.name == "normalize")
    assert normalize.status is StageStatus.QUEUED
    assert normalize.lease_owner is None
    assert [a.outcome for a in harness.store.jobs.list_attempts(job.id)] == ["succeeded", "handed_back"]
    assert [m.stage for m in harness.publisher.messages] == ["normalize"]  # re-sent at once
    assert not (harness.workspace.root / str(job.id)).exists()

    del harness.stages.behaviour["normalize"]
    harness.with_runner()  # another worker
    done = harness.run_to_end(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert [(a.stage, a.outcome) for a in harness.store.jobs.list_attempts(job.id)] == [
        ("ingest", "succeeded"),
        ("normalize", "handed_back"),
        ("normalize", "succeeded"),
        ("transcribe", "succeeded"),
    ]
    assert harness.stages.calls == Counter({"ingest": 1, "normalize": 2, "transcribe": 1})
    assert next(s for s in done.stages if s.name == "normalize").budget_start == 1  # not a retry
