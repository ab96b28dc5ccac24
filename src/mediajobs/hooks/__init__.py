"""Hooks for cross-cutting concerns, one module per concern (logs, metrics; webhooks next)."""

from .base import (
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
