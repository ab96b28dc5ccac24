"""The package's public names, pinned: adding one is a decision, removing one breaks users.

Change this list on purpose, in the same commit as the API change, and say so in its message.
"""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "mediajobs": ["__version__"],
    "mediajobs.client": [
        "AmbiguousJobId",
        "ApiError",
        "Client",
        "SseMessage",
        "SseParser",
        "StreamLost",
        "WaitTimeout",
        "default_api_key",
        "sse_lines",
    ],
    "mediajobs.errors": [
        "ClientError",
        "ClientSideError",
        "Conflict",
        "ForbiddenSource",
        "InvalidRequest",
        "JobCancelled",
        "LeaseLost",
        "MediaJobsError",
        "NotFound",
        "NotMigrated",
        "PayloadTooLarge",
        "PermanentError",
        "RequestTimeout",
        "RetryableError",
        "StageError",
        "StageTimeout",
        "StoreUnavailable",
        "TooManyRequests",
        "Unauthorized",
        "Unavailable",
        "UnsupportedMedia",
    ],
    "mediajobs.domain": [
        "LOCAL_USER_ID",
        "OPEN_JOB_STATUSES",
        "PIPELINES",
        "TERMINAL_JOB_STATUSES",
        "TRANSCRIBE",
        "UNFINISHED_STAGE_STATUSES",
        "WAITING_STAGE_STATUSES",
        "AdmissionPolicy",
        "AdmitAll",
        "Artifact",
        "AtMostInFlight",
        "Attempt",
        "AttemptOutcome",
        "Candidate",
        "ErrorInfo",
        "FairShare",
        "FanOut",
        "Job",
        "JobStatus",
        "JsonDict",
        "Lane",
        "Load",
        "NoOptions",
        "Pipeline",
        "PipelineRegistry",
        "Refusal",
        "RetryDecision",
        "RetryPolicy",
        "StageKind",
        "StageRun",
        "StageSpec",
        "StageStatus",
        "Tier",
        "TierLimits",
        "TranscribeOptions",
        "Upload",
        "Usage",
        "User",
        "default_pipelines",
        "get_pipeline",
    ],
    "mediajobs.store": [
        "ApiKey",
        "ArtifactRecord",
        "Caller",
        "Claim",
        "Clock",
        "EventSink",
        "JobPage",
        "JobStore",
        "OutboxBatch",
        "OutboxMessage",
        "QueueFor",
        "QueueSizes",
        "Reaped",
        "Refusal",
        "WorkerBeat",
        "create_db_engine",
        "current_revision",
        "default_queue_for",
        "ensure_migrated",
        "head_revision",
        "migrate",
        "utcnow",
    ],
    "mediajobs.storage": [
        "Download",
        "InMemoryStorage",
        "LocalStorage",
        "ObjectInfo",
        "ObjectMissing",
        "ObjectWriter",
        "Storage",
        "StoredObject",
        "Workspace",
        "artifact_key",
        "check_key",
        "check_prefix",
        "job_prefix",
        "read_bytes",
        "safe_filename",
        "stage_key",
        "upload_key",
        "upload_prefix",
    ],
    "mediajobs.engines": [
        "SPEECH_TO_TEXT",
        "EngineUnavailable",
        "Engines",
        "Segment",
        "SegmentCallback",
        "Slot",
        "SpeechToText",
        "StopCheck",
        "TranscribeRequest",
        "Transcript",
        "Word",
    ],
    "mediajobs.hooks": ["HookChain", "Hooks", "JobFinished", "LoggingHooks", "StageFinished", "StageInfo"],
    "mediajobs.stages": [
        "STAGES",
        "ArtifactFile",
        "CancelToken",
        "NullProgress",
        "ProgressSink",
        "StageContext",
        "StageFn",
        "StageResult",
        "default_stages",
    ],
    "mediajobs.testing": ["FakeSpeechToText", "engines_with"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_are_pinned(module: str) -> None:
    imported = importlib.import_module(module)
    assert sorted(imported.__all__) == sorted(PUBLIC[module])
    missing = [name for name in imported.__all__ if not hasattr(imported, name)]
    assert missing == []


def test_every_client_error_is_under_the_root() -> None:
    from mediajobs import client
    from mediajobs.errors import ClientSideError, MediaJobsError

    for name in ("AmbiguousJobId", "ApiError", "StreamLost", "WaitTimeout"):
        assert issubclass(getattr(client, name), ClientSideError)
    assert issubclass(ClientSideError, MediaJobsError)
