"""Retry decisions as values: exponential backoff with full jitter, honouring Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass


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
