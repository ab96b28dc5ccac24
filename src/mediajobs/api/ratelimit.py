"""The submit rate limit's counters: a moving window per API key, counted and read in one call.

With a Redis broker the counters live in Redis, shared by every API process: one Lua script per
submit counts the hit and returns what the RateLimit headers need (remaining, seconds to reset).
The `limits` library, used before, needs two scripts per submit (hit, then the window's figures),
and none of its strategies does both. The window is the same moving window: a list of the key's
last `limit` hit times, newest first, timed by Redis's own clock (one clock for every API process).
Without Redis (the embedded default) `limits`' moving window in this process's memory.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from mediajobs.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    remaining: int
    reset: int  # whole seconds until one more hit is allowed (0: now)


class Window(Protocol):
    def hit(self, key: str, limit: int, window_seconds: int) -> Verdict:
        """Count one hit of `key` if it fits `limit` per `window_seconds`; the figures after it."""
        ...

    def close(self) -> None: ...


# KEYS[1]: the key's list of hit times (ms, newest first). ARGV: limit, window (ms).
# Returns {allowed (0/1), remaining, ms until the oldest counted hit leaves the window}.
_MOVING_WINDOW = """
local key, limit, window = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local hits = redis.call('LRANGE', key, 0, limit - 1)
local count = 0
for _, at in ipairs(hits) do
  if now - tonumber(at) < window then count = count + 1 else break end
end
local oldest
if count < limit then
  redis.call('LPUSH', key, now)
  redis.call('LTRIM', key, 0, limit - 1)
  redis.call('PEXPIRE', key, window)
  if count == 0 then oldest = now else oldest = tonumber(hits[count]) end
  return {1, limit - count - 1, oldest + window - now}
end
oldest = tonumber(hits[count])
return {0, 0, oldest + window - now}
"""


class RedisWindow:
    """The moving window in Redis, one script call per hit."""

    def __init__(self, url: str, *, prefix: str = "mediajobs:ratelimit:") -> None:
        import redis

        self._client: Any = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
        self._script = self._client.register_script(_MOVING_WINDOW)
        self._prefix = prefix

    def hit(self, key: str, limit: int, window_seconds: int) -> Verdict:
        allowed, remaining, reset_ms = self._script(
            keys=[f"{self._prefix}{window_seconds}:{key}"], args=[limit, window_seconds * 1000]
        )
        return Verdict(bool(allowed), int(remaining), max(0, math.ceil(int(reset_ms) / 1000)))

    def close(self) -> None:
        self._client.close()


class MemoryWindow:
    """`limits`' moving window in this process's memory (one process: the embedded default)."""

    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, key: str, limit: int, window_seconds: int) -> Verdict:
        if window_seconds != 60:
            raise ValueError("the memory window counts per minute")
        item = RateLimitItemPerMinute(limit)
        allowed = self._limiter.hit(item, "submit", key)
        stats = self._limiter.get_window_stats(item, "submit", key)
        return Verdict(allowed, stats.remaining, max(0, math.ceil(stats.reset_time - time.time())))

    def close(self) -> None:
        pass


def window_for(storage_url: str) -> RedisWindow | MemoryWindow:
    """Redis for a redis:// or rediss:// URL, this process's memory for memory://."""
    if storage_url.startswith(("redis://", "rediss://")):
        return RedisWindow(storage_url)
    if storage_url.startswith("memory://"):
        return MemoryWindow()
    raise ConfigurationError(
        "MEDIAJOBS_RATE_LIMIT_STORAGE must be a redis://, rediss:// or memory:// URL, "
        f"not {storage_url[:40]!r}"
    )


__all__ = ["MemoryWindow", "RedisWindow", "Verdict", "Window", "window_for"]
