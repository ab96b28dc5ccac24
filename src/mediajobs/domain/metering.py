"""Metering: what a job may hold of its owner's monthly quotas once its size is known. Pure rules.

media       a job's media length is known when the stage its pipeline meters ends (`normalize`
            probes and decodes it; `synthesize` measures the speech it made). It is then reserved:
            it must fit the monthly media quota on top of what is settled and what the owner's
            other running jobs hold, or the job fails `quota_exceeded` before its costly stages
            run. A reservation is settled (charged) when the job ends, however it ends: the stages
            it let start have run, and a cancel near the end must not make them free.
characters  the text a translate or synthesize job reads is counted when `read_text` ends: it must
            fit the monthly characters quota, or the job fails `quota_exceeded` before the text is
            translated or spoken. A submit whose inline `text` alone passes what is left is refused
            at once (429).
"""

from __future__ import annotations

from datetime import datetime

from .tenancy import QuotaVerdict, TierLimits, Usage, next_period_start


def _wait(now: datetime) -> int:
    return max(1, int((next_period_start(now) - now).total_seconds()))


def check_media_reservation(limits: TierLimits, usage: Usage, seconds: float, now: datetime) -> QuotaVerdict:
    """May a job reserve `seconds` of media on top of `usage` (settled plus reserved)?"""
    limit = limits.monthly_media_seconds
    if limit is None or usage.media_held + seconds <= limit:
        return QuotaVerdict(allowed=True)
    return QuotaVerdict(
        allowed=False,
        limit="monthly_media_minutes",
        retry_after=_wait(now),
        message=(
            f"monthly media quota: this job's {seconds / 60:.1f} minutes do not fit; "
            f"{usage.media_seconds / 60:.1f} used and {usage.reserved_seconds / 60:.1f} reserved by "
            f"running jobs of {limit / 60:.0f} minutes in {usage.period}"
        ),
    )


def check_characters(limits: TierLimits, usage: Usage, characters: int, now: datetime) -> QuotaVerdict:
    """May a job read `characters` of text on top of the characters already counted this period?"""
    limit = limits.monthly_characters
    if limit is None or usage.characters + characters <= limit:
        return QuotaVerdict(allowed=True)
    return QuotaVerdict(
        allowed=False,
        limit="monthly_characters",
        retry_after=_wait(now),
        message=(
            f"monthly text quota: this job's {characters:,} characters do not fit; "
            f"{usage.characters:,} used of {limit:,} characters in {usage.period}"
        ),
    )


__all__ = ["check_characters", "check_media_reservation"]
