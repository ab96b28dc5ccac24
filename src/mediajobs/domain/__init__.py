"""Pure domain: jobs, stage runs, statuses, pipelines as stage graphs, retry policy."""

from .models import (
    LOCAL_USER_ID,
    TERMINAL_JOB_STATUSES,
    Artifact,
    Attempt,
    ErrorInfo,
    Job,
    JobStatus,
    JsonDict,
    StageRun,
    StageStatus,
    Upload,
)
from .pipelines import PIPELINES, Pipeline, StageKind, StageSpec, get_pipeline
from .retry import RetryDecision, RetryPolicy

__all__ = [
    "LOCAL_USER_ID",
    "PIPELINES",
    "TERMINAL_JOB_STATUSES",
    "Artifact",
    "Attempt",
    "ErrorInfo",
    "Job",
    "JobStatus",
    "JsonDict",
    "Pipeline",
    "RetryDecision",
    "RetryPolicy",
    "StageKind",
    "StageRun",
    "StageSpec",
    "StageStatus",
    "Upload",
    "get_pipeline",
]
