"""Live progress: publish committed events (Redis pub/sub), follow a job or a user's jobs (replay the
database log, then live), and the SSE wire format. See docs/architecture.md, "Live progress"."""

from .bus import EventPublisher, RedisEventBus, job_channel, user_channel
from .feed import LiveFeed, RedisLiveFeed, Subscription
from .follow import EventLog, FollowTimings, follow_job, follow_owner
from .memory import InMemoryEventBus
from .wiring import Progress, build_progress, redis_url

__all__ = [
    "EventLog",
    "EventPublisher",
    "FollowTimings",
    "InMemoryEventBus",
    "LiveFeed",
    "Progress",
    "RedisEventBus",
    "RedisLiveFeed",
    "Subscription",
    "build_progress",
    "follow_job",
    "follow_owner",
    "job_channel",
    "redis_url",
    "user_channel",
]
