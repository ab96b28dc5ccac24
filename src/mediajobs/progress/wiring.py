"""Which publisher and live feed a process uses, from its settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from mediajobs.settings import Settings

from .bus import REDIS_SCHEMES, EventPublisher, RedisEventBus
from .feed import LiveFeed, RedisLiveFeed
from .follow import FollowTimings


@dataclass(kw_only=True)
class Progress:
    """A process's live progress parts. Both None: followers read the database log (embedded)."""

    publisher: EventPublisher | None = None  # the store's event sink (worker and API processes)
    feed: LiveFeed | None = None  # what SSE / WebSocket followers listen to (API processes)
    timings: FollowTimings = field(default_factory=FollowTimings)

    async def aclose(self) -> None:
        """Stop the live feed (on the event loop it runs on)."""
        if self.feed is not None:
            await self.feed.aclose()

    def close(self) -> None:
        if self.publisher is not None:
            self.publisher.close()


def redis_url(settings: Settings) -> str | None:
    """The Redis server for pub/sub: the broker's, when the broker is Redis."""
    url = settings.broker_url
    return url if url is not None and url.startswith(REDIS_SCHEMES) else None


def channel_prefix(settings: Settings, url: str) -> str:
    """Pub/sub channels ignore Redis' database number: put it in the channel names, so deployments
    sharing one Redis server on different databases never see each other's events."""
    database = urlsplit(url).path.strip("/") or "0"
    return f"{settings.queue_prefix}db{database}:"


def build_progress(settings: Settings, *, timings: FollowTimings | None = None) -> Progress:
    url = redis_url(settings)
    if url is None:
        return Progress(timings=timings or FollowTimings())
    prefix = channel_prefix(settings, url)
    return Progress(
        publisher=RedisEventBus(url, prefix=prefix),
        feed=RedisLiveFeed(url, prefix=prefix),
        timings=timings or FollowTimings(),
    )


__all__ = ["Progress", "build_progress", "channel_prefix", "redis_url"]
