"""Pure domain: jobs, stage runs, statuses, pipelines as stage graphs, the transition rules,
admission, retry policy."""

from .admission import AdmissionPolicy, AdmitAll, AtMostInFlight, Candidate, Load
from .graph import FanOut, NoOptions, Pipeline, PipelineRegistry, StageKind, StageSpec
from .models import (
    LOCAL_USER_ID,
    OPEN_JOB_STATUSES,
    TERMINAL_JOB_STATUSES,
    UNFINISHED_STAGE_STATUSES,
    WAITING_STAGE_STATUSES,
    Artifact,
    Attempt,
    AttemptOutcome,
    ErrorInfo,
    Job,
    JobStatus,
    JsonDict,
    Lane,
    StageRun,
    StageStatus,
    Upload,
)
from .pipelines import PIPELINES, TRANSCRIBE, TranscribeOptions, default_pipelines, get_pipeline
from .retry import RetryDecision, RetryPolicy
from .transitions import Refusal

__all__ = [
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
    "TranscribeOptions",
    "Upload",
    "default_pipelines",
    "get_pipeline",
]
