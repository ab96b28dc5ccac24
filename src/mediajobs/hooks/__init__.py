"""Hooks for cross-cutting concerns, one module per concern (logging now; metrics and webhooks next)."""

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

__all__ = [
    "HookChain",
    "Hooks",
    "JobFinished",
    "JobSubmitted",
    "LoggingHooks",
    "LostLease",
    "MessagePublished",
    "ProcessInfo",
    "StageFinished",
    "StageInfo",
]
