"""Retry decisions as values: exponential backoff with full jitter (stages), or a fixed schedule with
jitter (webhooks); both honour Retry-After."""

from __future__ import annotations

import contextlib
import email.utils
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryDecision:
    """What to do after a failed attempt."""

    retry: bool
    delay: float = 0.0  # seconds before the next attempt may start


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """`max_retries` retries after the first attempt; delay ~ U(0, min(cap, base * 2**n))."""

    max_retries: int = 3
    base: float = 2.0
    cap: float = 600.0

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full-jitter delay after attempt number `attempt` (1-based) failed."""
        ceiling = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        return (rng or random).uniform(0.0, ceiling)

    def decide(
        self,
        *,
        attempt: int,
        retryable: bool,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> RetryDecision:
        if not retryable or attempt > self.max_retries:
            return RetryDecision(retry=False)
        delay = self.backoff(attempt, rng)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap))
        return RetryDecision(retry=True, delay=delay)


class RetryRule(Protocol):
    """What decides whether, and when, a failed attempt is tried again."""

    def decide(
        self,
        *,
        attempt: int,
        retryable: bool,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> RetryDecision: ...


STANDARD_WEBHOOK_DELAYS = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
"""The Standard Webhooks schedule: after the first attempt (at once), 5 s, 5 min, 30 min, 2 h, 5 h,
10 h and 10 h: eight attempts over about 33 hours."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RetrySchedule:
    """Retries after fixed delays, one per retry in order (`len(delays)` retries after the first
    attempt), each stretched by up to `jitter` of itself at random, so receivers that failed together
    are not all tried again at the same instant. A Retry-After is honoured: the next attempt waits at
    least that long (at most `retry_after_cap`)."""

    delays: tuple[float, ...] = STANDARD_WEBHOOK_DELAYS
    jitter: float = 0.2
    retry_after_cap: float = 24 * 3600.0

    @property
    def attempts(self) -> int:
        """How many attempts in all, the first one included."""
        return len(self.delays) + 1

    def decide(
        self,
        *,
        attempt: int,
        retryable: bool,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> RetryDecision:
        """After attempt number `attempt` (1-based) failed."""
        if not retryable or attempt > len(self.delays):
            return RetryDecision(retry=False)
        planned = self.delays[max(0, attempt - 1)]
        delay = planned * (1.0 + (rng or random).uniform(0.0, self.jitter))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry_after_cap))
        return RetryDecision(retry=True, delay=delay)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None when absent/bad."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError, IndexError):
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        current = datetime.now(UTC).timestamp() if now is None else now
        return max(0.0, when.timestamp() - current)
    return None


__all__ = [
    "STANDARD_WEBHOOK_DELAYS",
    "RetryDecision",
    "RetryPolicy",
    "RetryRule",
    "RetrySchedule",
    "parse_retry_after",
]
