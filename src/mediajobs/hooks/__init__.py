"""Hooks for cross-cutting concerns, one module per concern (logs.py, metrics.py, webhooks.py)."""

from .base import (
    BatchFinished,
    HookChain,
    Hooks,
    JobFinished,
    JobSubmitted,
    LostLease,
    MessagePublished,
    ProcessInfo,
    StageFinished,
    StageInfo,
)
from .logs import LoggingHooks
from .metrics import MetricsHooks

__all__ = [
    "BatchFinished",
    "HookChain",
    "Hooks",
    "JobFinished",
    "JobSubmitted",
    "LoggingHooks",
    "LostLease",
    "MessagePublished",
    "MetricsHooks",
    "ProcessInfo",
    "StageFinished",
    "StageInfo",
]
