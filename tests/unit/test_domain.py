"""The pure domain: pipeline graphs, source and option validation, retry decisions, statuses."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest

from mediajobs.domain import TERMINAL_JOB_STATUSES, Job, JobStatus, RetryPolicy, StageRun, StageStatus
from mediajobs.domain.transitions import job_progress, ready_stages
from mediajobs.errors import InvalidRequest
from mediajobs.pipelines import get_pipeline, shipped_pipelines

JOB_ID = uuid.UUID(int=1)
UPLOAD_ID = "6f1c2a3b-0000-4000-8000-000000000001"


def runs(**statuses: StageStatus | tuple[StageStatus, float]) -> dict[str, StageRun]:
    """Stage runs of the transcribe pipeline by name: `ingest=SUCCEEDED` or `normalize=(RUNNING, 40.0)`."""
    pipeline = get_pipeline("transcribe")
    out = {}
    for name, value in statuses.items():
        status, progress = value if isinstance(value, tuple) else (value, 0.0)
        out[name] = StageRun(
            job_id=JOB_ID, name=name, kind=pipeline.spec(name).kind, status=status, progress=progress
        )
    return out


# -- pipeline graph ------------------------------------------------------------------------------


def test_transcribe_pipeline_is_a_chain_of_three_stages() -> None:
    pipeline = get_pipeline("transcribe")

    assert [s.name for s in pipeline.stages] == ["ingest", "normalize", "transcribe"]
    assert pipeline.spec("normalize").needs == ("ingest",)
    assert pipeline.spec("transcribe").needs == ("normalize",)
    assert {s.kind.name for s in pipeline.stages} == {"download", "media", "transcribe"}
    assert shipped_pipelines()["transcribe"] is pipeline


def test_roots_are_the_stages_that_need_nothing() -> None:
    assert [s.name for s in get_pipeline("transcribe").roots()] == ["ingest"]


def test_spec_of_an_unknown_stage_raises_key_error() -> None:
    with pytest.raises(KeyError):
        get_pipeline("transcribe").spec("translate")


@pytest.mark.parametrize(
    ("statuses", "ready"),
    [
        pytest.param(
            {
                "ingest": StageStatus.QUEUED,
                "normalize": StageStatus.PENDING,
                "transcribe": StageStatus.PENDING,
            },
            [],
            id="nothing-before-the-root-succeeds",
        ),
        pytest.param(
            {
                "ingest": StageStatus.RUNNING,
                "normalize": StageStatus.PENDING,
                "transcribe": StageStatus.PENDING,
            },
            [],
            id="a-running-need-is-not-enough",
        ),
        pytest.param(
            {
                "ingest": StageStatus.SUCCEEDED,
                "normalize": StageStatus.PENDING,
                "transcribe": StageStatus.PENDING,
            },
            ["normalize"],
            id="only-the-next-stage",
        ),
        pytest.param(
            {
                "ingest": StageStatus.SUCCEEDED,
                "normalize": StageStatus.SUCCEEDED,
                "transcribe": StageStatus.PENDING,
            },
            ["transcribe"],
            id="last-stage",
        ),
        pytest.param(
            {
                "ingest": StageStatus.SUCCEEDED,
                "normalize": StageStatus.QUEUED,
                "transcribe": StageStatus.PENDING,
            },
            [],
            id="already-queued-is-not-ready-again",
        ),
        pytest.param(
            {
                "ingest": StageStatus.FAILED,
                "normalize": StageStatus.PENDING,
                "transcribe": StageStatus.PENDING,
            },
            [],
            id="a-failed-need-blocks",
        ),
    ],
)
def test_ready_after(statuses: dict[str, StageStatus], ready: list[str]) -> None:
    pipeline = get_pipeline("transcribe")

    assert [r.name for r in ready_stages(pipeline, runs(**statuses).values())] == ready


def test_progress_is_weighted_by_stage() -> None:
    pipeline = get_pipeline("transcribe")  # weights 1, 1, 6

    assert job_progress(pipeline, runs().values()) == 0.0
    assert job_progress(pipeline, runs(ingest=StageStatus.SUCCEEDED).values()) == 12.5
    half_normalized = runs(ingest=StageStatus.SUCCEEDED, normalize=(StageStatus.RUNNING, 50.0))
    assert job_progress(pipeline, half_normalized.values()) == 18.75
    half_transcribed = runs(
        ingest=StageStatus.SUCCEEDED,
        normalize=StageStatus.SUCCEEDED,
        transcribe=(StageStatus.RUNNING, 50.0),
    )
    assert job_progress(pipeline, half_transcribed.values()) == 62.5
    everything = runs(
        ingest=StageStatus.SUCCEEDED, normalize=StageStatus.SUCCEEDED, transcribe=StageStatus.SUCCEEDED
    )
    assert job_progress(pipeline, everything.values()) == 100.0


def test_progress_clamps_a_stage_percent_and_counts_success_as_full() -> None:
    pipeline = get_pipeline("transcribe")

    over = runs(ingest=(StageStatus.RUNNING, 250.0))
    under = runs(ingest=(StageStatus.RUNNING, -20.0))
    succeeded_at_zero = runs(ingest=(StageStatus.SUCCEEDED, 0.0))

    assert job_progress(pipeline, over.values()) == 12.5
    assert job_progress(pipeline, under.values()) == 0.0
    assert job_progress(pipeline, succeeded_at_zero.values()) == 12.5


# -- sources -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "http://example.com/talk.mp3",
        "https://example.com/a/b/talk.mp4?x=1",
        "HTTPS://Example.com/talk.wav",
        f"upload://{UPLOAD_ID}",
    ],
)
def test_validate_source_accepts_http_https_and_upload(source: str) -> None:
    assert get_pipeline("transcribe").validate_source(source) == source


def test_validate_source_strips_surrounding_whitespace() -> None:
    assert get_pipeline("transcribe").validate_source("  https://example.com/a.mp3\n") == (
        "https://example.com/a.mp3"
    )


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("ftp://example.com/talk.mp3", id="ftp"),
        pytest.param("file:///etc/passwd", id="file"),
        pytest.param("javascript:alert(1)", id="javascript"),
        pytest.param("data:audio/wav;base64,AAAA", id="data"),
        pytest.param("example.com/talk.mp3", id="no-scheme"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("https://", id="https-without-host"),
        pytest.param("http:///talk.mp3", id="http-empty-host"),
        pytest.param("upload://", id="upload-without-id"),
    ],
)
def test_validate_source_rejects_other_schemes_and_empty_hosts(source: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        get_pipeline("transcribe").validate_source(source)

    assert info.value.code == "invalid_source"
    assert info.value.message


# -- options -------------------------------------------------------------------------------------


def test_validate_options_fills_defaults() -> None:
    pipeline = get_pipeline("transcribe")
    cues = {"max_line_chars": 42, "max_lines": 2, "max_cue_seconds": 7.0}
    defaults = {
        "model": None,
        "language": "auto",
        "task": "transcribe",
        "vad": False,
        "word_timestamps": False,
        "prompt": None,
        "temperature": None,
        "segment_details": False,
        **cues,
    }

    assert pipeline.validate_options(None) == defaults
    assert pipeline.validate_options({}) == defaults
    assert pipeline.validate_options({"language": "en", "vad": True}) == {
        **defaults,
        "language": "en",
        "vad": True,
    }


@pytest.mark.parametrize("language", ["en", "de", "yue", "pt-BR", "zh-Hans"])
def test_validate_options_accepts_language_tags(language: str) -> None:
    assert get_pipeline("transcribe").validate_options({"language": language})["language"] == language


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"colour": "blue"}, id="unknown-key"),
        pytest.param({"language": "english"}, id="language-word"),
        pytest.param({"language": "EN"}, id="language-upper-case"),
        pytest.param({"language": "e"}, id="language-too-short"),
        pytest.param({"language": "en_US"}, id="language-underscore"),
        pytest.param({"language": "en; rm -rf /"}, id="language-injection"),
        pytest.param({"vad": "sometimes"}, id="vad-not-a-bool"),
        pytest.param({"max_line_chars": 5}, id="lines-too-short"),
        pytest.param({"max_lines": 0}, id="no-lines"),
        pytest.param({"max_cue_seconds": 120}, id="cue-too-long"),
    ],
)
def test_validate_options_rejects_bad_options(options: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest) as info:
        get_pipeline("transcribe").validate_options(options)

    assert info.value.code == "invalid_options"
    assert "transcribe" in info.value.message


def test_invalid_options_message_names_the_offending_key() -> None:
    with pytest.raises(InvalidRequest, match="colour"):
        get_pipeline("transcribe").validate_options({"colour": "blue"})


def test_get_pipeline_unknown_lists_the_known_ones() -> None:
    with pytest.raises(InvalidRequest) as info:
        get_pipeline("summarize")

    assert info.value.code == "unknown_pipeline"
    assert "transcribe" in info.value.message
    assert "translate" in info.value.message


# -- retry policy --------------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 8, 12])
def test_backoff_is_full_jitter_under_the_exponential_ceiling(attempt: int) -> None:
    policy = RetryPolicy(max_retries=20, base=0.5, cap=30.0)
    ceiling = min(policy.cap, policy.base * 2 ** (attempt - 1))
    rng = random.Random(1234 + attempt)

    delays = [policy.backoff(attempt, rng) for _ in range(500)]

    assert all(0.0 <= d <= ceiling for d in delays)
    # Full jitter spreads over the whole range, not just near the ceiling or near zero.
    assert min(delays) < 0.1 * ceiling
    assert max(delays) > 0.9 * ceiling


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    policy = RetryPolicy(base=1.0, cap=60.0)

    first = [policy.backoff(n, random.Random(7)) for n in range(1, 6)]
    second = [policy.backoff(n, random.Random(7)) for n in range(1, 6)]

    assert first == second


def test_decide_retries_until_max_retries_then_gives_up() -> None:
    policy = RetryPolicy(max_retries=3, base=1.0, cap=10.0)
    rng = random.Random(0)

    decisions = [policy.decide(attempt=n, retryable=True, rng=rng) for n in (1, 2, 3, 4, 5)]

    assert [d.retry for d in decisions] == [True, True, True, False, False]
    assert all(d.delay == 0.0 for d in decisions if not d.retry)


def test_decide_with_zero_max_retries_never_retries() -> None:
    assert not RetryPolicy(max_retries=0).decide(attempt=1, retryable=True).retry


def test_decide_never_retries_a_permanent_failure() -> None:
    decision = RetryPolicy(max_retries=5).decide(attempt=1, retryable=False, retry_after=3.0)

    assert not decision.retry
    assert decision.delay == 0.0


def test_retry_after_is_a_floor_on_the_delay() -> None:
    policy = RetryPolicy(max_retries=3, base=1.0, cap=60.0)

    for seed in range(20):
        decision = policy.decide(attempt=1, retryable=True, retry_after=5.0, rng=random.Random(seed))
        assert decision.retry
        assert decision.delay == 5.0  # the jittered backoff of attempt 1 is at most 1 s


def test_retry_after_below_the_backoff_leaves_the_backoff() -> None:
    policy = RetryPolicy(max_retries=10, base=10.0, cap=600.0)
    expected = policy.backoff(5, random.Random(3))

    decision = policy.decide(attempt=5, retryable=True, retry_after=0.0, rng=random.Random(3))

    assert decision.delay == expected


def test_retry_after_is_capped() -> None:
    policy = RetryPolicy(max_retries=3, base=1.0, cap=20.0)

    decision = policy.decide(attempt=2, retryable=True, retry_after=3600.0, rng=random.Random(0))

    assert decision.retry
    assert decision.delay == 20.0


# -- statuses ------------------------------------------------------------------------------------


def test_job_status_terminal() -> None:
    assert {s for s in JobStatus if s.terminal} == {
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.EXPIRED,  # (the tenancy issue: old jobs' files removed by the daily cleanup)
        JobStatus.DELETED,  # (issue 23: its owner removed its files)
    }
    assert not JobStatus.QUEUED.terminal
    assert not JobStatus.RUNNING.terminal
    assert frozenset(s for s in JobStatus if s.terminal) == TERMINAL_JOB_STATUSES


def test_stage_status_terminal() -> None:
    assert {s for s in StageStatus if s.terminal} == {
        StageStatus.SUCCEEDED,
        StageStatus.FAILED,
        StageStatus.CANCELLED,
        StageStatus.SKIPPED,
    }


def test_statuses_are_plain_strings() -> None:
    assert JobStatus("queued") is JobStatus.QUEUED
    assert isinstance(JobStatus.SUCCEEDED, str)
    assert f"{JobStatus.SUCCEEDED}" == "succeeded"
    assert f"{StageStatus.PENDING}" == "pending"


def test_job_stage_looks_up_by_name() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    stage_runs = runs(ingest=StageStatus.QUEUED, normalize=StageStatus.PENDING)
    job = Job(
        id=JOB_ID,
        owner_id="local",
        pipeline="transcribe",
        source="https://example.com/a.mp3",
        options={},
        status=JobStatus.QUEUED,
        created_at=now,
        updated_at=now,
        stages=tuple(stage_runs.values()),
    )

    assert job.stage("normalize").status is StageStatus.PENDING
    with pytest.raises(KeyError):
        job.stage("transcribe")
