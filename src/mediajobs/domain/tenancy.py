"""Users, tiers, lanes and quotas: pure rules, no storage.

tier        what a user pays for: free | pro | enterprise
lane        where a user's jobs run: express (pro, enterprise) | standard (free) | batch (bulk);
            a user may ask for a slower lane than their own, never a faster one
limits      per tier: stages in flight at once, monthly media minutes, jobs and text characters,
            submits per minute (how media and text are metered: domain/metering.py), bytes stored
            at once (uploads, media and artifacts kept: not per period)
period      a calendar month in UTC ("2026-12"); usage is kept per user per period, so a new
            month is a new row, never a destructive reset
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from mediajobs.errors import InvalidRequest

from .models import Lane

GIB = 1024**3
LANE_ORDER = (Lane.EXPRESS, Lane.STANDARD, Lane.BATCH)  # fastest first


class Tier(enum.StrEnum):
    FREE = "free"  # shares the standard lane, small limits
    PRO = "pro"  # the express lane
    ENTERPRISE = "enterprise"  # the express lane, large or no limits


@dataclass(frozen=True, kw_only=True, slots=True)
class TierLimits:
    """What one tier may do. None: unlimited."""

    concurrency: int  # stages of the user's jobs queued or running at once, across lanes
    monthly_media_seconds: float | None
    monthly_jobs: int | None
    submits_per_minute: int | None
    # bytes of uploads, stage files and artifacts kept at once (domain/storage.py); None: unlimited
    stored_bytes: int | None = None
    monthly_characters: int | None = None  # text read by translate and synthesize jobs


DEFAULT_LIMITS: dict[Tier, TierLimits] = {
    Tier.FREE: TierLimits(
        concurrency=2,
        monthly_media_seconds=60 * 60,
        monthly_jobs=200,
        submits_per_minute=30,
        stored_bytes=2 * GIB,
        monthly_characters=200_000,
    ),
    Tier.PRO: TierLimits(
        concurrency=8,
        monthly_media_seconds=20 * 3600,
        monthly_jobs=10_000,
        submits_per_minute=300,
        stored_bytes=100 * GIB,
        monthly_characters=10_000_000,
    ),
    Tier.ENTERPRISE: TierLimits(
        concurrency=32,
        monthly_media_seconds=None,
        monthly_jobs=None,
        submits_per_minute=3000,
        stored_bytes=None,
    ),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class User:
    id: str
    name: str
    tier: Tier
    is_admin: bool = False
    disabled: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Usage:
    """One user's use of one period."""

    period: str
    jobs: int = 0
    media_seconds: float = 0.0  # settled: charged for jobs that ended
    reserved_seconds: float = 0.0  # held by jobs still running (settled when each ends)
    characters: int = 0  # text read by translate and synthesize jobs

    @property
    def media_held(self) -> float:
        """What counts against the media quota: the settled seconds and the reserved ones."""
        return self.media_seconds + self.reserved_seconds


def home_lane(tier: Tier) -> Lane:
    return Lane.STANDARD if tier is Tier.FREE else Lane.EXPRESS


def lane_for(tier: Tier, requested: str | None) -> Lane:
    """The lane a job runs in: the tier's, or a slower one the user asked for (never a faster one)."""
    home = home_lane(tier)
    if requested is None:
        return home
    try:
        lane = Lane(requested)
    except ValueError:
        names = ", ".join(lane.value for lane in LANE_ORDER)
        raise InvalidRequest(
            f"unknown lane {requested[:32]!r}; lanes: {names}", code="invalid_lane"
        ) from None
    if LANE_ORDER.index(lane) < LANE_ORDER.index(home):
        raise InvalidRequest(
            f"a {tier.value} user's jobs run in the {home.value} lane or slower, not {lane.value}",
            code="lane_not_allowed",
        )
    return lane


def period_of(moment: datetime) -> str:
    """The usage period (calendar month, UTC) a moment falls in."""
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc.month:02d}"


def next_period_start(moment: datetime) -> datetime:
    """00:00 UTC on the 1st of the next month."""
    utc = moment.astimezone(UTC)
    year, month = (utc.year + 1, 1) if utc.month == 12 else (utc.year, utc.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True, slots=True)
class QuotaVerdict:
    allowed: bool
    limit: str = ""  # which limit refused, for the message
    retry_after: int = 0  # seconds until the next period starts
    message: str = ""


def check_quota(limits: TierLimits, usage: Usage, now: datetime, *, adding: int = 1) -> QuotaVerdict:
    """May `adding` more jobs be submitted this period, on top of `usage`?"""
    wait = max(1, int((next_period_start(now) - now).total_seconds()))
    if limits.monthly_jobs is not None and usage.jobs + adding > limits.monthly_jobs:
        left = max(0, limits.monthly_jobs - usage.jobs)
        message = (
            f"monthly job quota reached: {usage.jobs} of {limits.monthly_jobs} jobs in {usage.period}"
            if adding == 1 or left == 0
            else f"monthly job quota: {adding} jobs are more than the {left} left in {usage.period}"
        )
        return QuotaVerdict(allowed=False, limit="monthly_jobs", retry_after=wait, message=message)
    if limits.monthly_media_seconds is not None and usage.media_held >= limits.monthly_media_seconds:
        return QuotaVerdict(
            allowed=False,
            limit="monthly_media_minutes",
            retry_after=wait,
            message=(
                f"monthly media quota reached: {usage.media_held / 60:.1f} of "
                f"{limits.monthly_media_seconds / 60:.0f} minutes in {usage.period}"
                + (
                    f" ({usage.reserved_seconds / 60:.1f} reserved by running jobs)"
                    if usage.reserved_seconds
                    else ""
                )
            ),
        )
    return QuotaVerdict(allowed=True)


__all__ = [
    "DEFAULT_LIMITS",
    "GIB",
    "LANE_ORDER",
    "QuotaVerdict",
    "Tier",
    "TierLimits",
    "Usage",
    "User",
    "check_quota",
    "home_lane",
    "lane_for",
    "next_period_start",
    "period_of",
]
