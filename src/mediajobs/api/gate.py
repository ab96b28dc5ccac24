"""What a submit must pass before it is read: the user's monthly quotas, the key's rate limit, and
(for uploads) the user's count of bodies already streaming into this process.

Quotas (domain/tenancy.py) are checked early against the usage the caller's key check read (it may
be a few seconds old: the submit's usage charge checks them again, exactly), so they cost no query.
The rate limit is a moving window per user, whatever key they use (api/ratelimit.py): one script
call in Redis when the broker is Redis (shared by every API process), in memory otherwise (embedded).
Headers follow the IETF draft "RateLimit header fields for HTTP" (RateLimit-Limit / -Remaining /
-Reset / -Policy). If the limiter's Redis is away, submits are let through (the outbox holds them).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from mediajobs.api.ratelimit import Window, window_for
from mediajobs.domain.tenancy import Tier, TierLimits, check_quota
from mediajobs.errors import TooManyRequests
from mediajobs.settings import Settings
from mediajobs.store import Caller

log = logging.getLogger(__name__)


class SubmitGate:
    def __init__(self, limits: dict[Tier, TierLimits], window: Window) -> None:
        self._limits = limits
        self._window = window

    @classmethod
    def from_settings(cls, settings: Settings) -> SubmitGate:
        return cls(settings.tier_limits(), window_for(settings.resolved_rate_limit_storage))

    def close(self) -> None:
        self._window.close()

    def limits_of(self, caller: Caller) -> TierLimits:
        return self._limits[caller.user.tier]

    def check(self, caller: Caller, now: datetime, *, adding: int = 1) -> dict[str, str]:
        """Raise TooManyRequests (429) when the caller may not submit now; else the headers to send.
        A retry passes `adding=0`: it makes no new job, but it runs work, so the media quota and the
        rate limit hold for it as for a submit."""
        limits = self.limits_of(caller)
        verdict = check_quota(limits, caller.usage, now, adding=adding)
        if not verdict.allowed:
            raise TooManyRequests(verdict.message, code="quota_exceeded", retry_after=verdict.retry_after)
        if limits.submits_per_minute is None:
            return {}
        return self._rate(caller.user.id, limits.submits_per_minute)

    def _rate(self, user_id: str, per_minute: int) -> dict[str, str]:
        try:
            verdict = self._window.hit(user_id, per_minute, 60)
        except Exception:
            log.warning(
                "the rate limiter's storage is unavailable; letting the submit through", exc_info=True
            )
            return {}
        headers = {
            "RateLimit-Limit": str(per_minute),
            "RateLimit-Remaining": str(verdict.remaining),
            "RateLimit-Reset": str(verdict.reset),
            "RateLimit-Policy": f"{per_minute};w=60",
        }
        if not verdict.allowed:
            wait = max(1, verdict.reset)
            raise TooManyRequests(
                f"submit rate limit: {per_minute} per minute for your account; try again in {wait} s",
                code="rate_limited",
                retry_after=wait,
                headers=headers,
            )
        return headers


class UploadSlots:
    """How many uploads each user is sending to this API process right now, at most `per_user`.

    A body streams for as long as its client takes; without a cap one user could keep the process
    busy with thousands of slow uploads. Beyond the cap: 429 `too_many_uploads`. Used from the event
    loop only (no lock): a slot is taken before the body is read and given back however it ends.
    """

    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._active: dict[str, int] = {}

    def active(self, user_id: str) -> int:
        return self._active.get(user_id, 0)

    @contextmanager
    def hold(self, user_id: str) -> Iterator[None]:
        held = self._active.get(user_id, 0)
        if held >= self.per_user:
            raise TooManyRequests(
                f"{held} uploads of yours are still streaming into this server (at most {self.per_user}"
                " at once): finish or cancel one first",
                code="too_many_uploads",
                retry_after=1,
            )
        self._active[user_id] = held + 1
        try:
            yield
        finally:
            left = self._active[user_id] - 1
            if left:
                self._active[user_id] = left
            else:
                del self._active[user_id]


__all__ = ["SubmitGate", "UploadSlots"]
