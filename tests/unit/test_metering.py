"""The metering rules (domain/metering.py): what a job may reserve and read of its owner's quotas."""

from __future__ import annotations

from datetime import UTC, datetime

from mediajobs.domain.metering import check_characters, check_media_reservation
from mediajobs.domain.tenancy import DEFAULT_LIMITS, Tier, TierLimits, Usage, check_quota

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
HOUR = TierLimits(
    concurrency=2,
    monthly_media_seconds=3600,
    monthly_jobs=None,
    submits_per_minute=None,
    monthly_characters=1000,
)


def test_a_reservation_fits_on_top_of_what_is_settled_and_reserved() -> None:
    usage = Usage(period="2026-12", media_seconds=600, reserved_seconds=3000)
    assert check_media_reservation(HOUR, usage, 0, NOW).allowed
    refused = check_media_reservation(HOUR, usage, 3000, NOW)
    assert not refused.allowed
    assert refused.limit == "monthly_media_minutes"
    assert refused.retry_after > 0
    assert "50.0 minutes do not fit" in refused.message
    assert "10.0 used and 50.0 reserved" in refused.message
    assert "of 60 minutes" in refused.message


def test_four_fifty_minute_files_on_a_sixty_minute_plan_make_one_reservation() -> None:
    """Finding 5's case, as the rule sees it: each reservation counts the ones before it."""
    usage = Usage(period="2026-12")
    held = []
    for _ in range(4):
        if check_media_reservation(HOUR, usage, 3000, NOW).allowed:
            usage = Usage(period=usage.period, reserved_seconds=usage.reserved_seconds + 3000)
            held.append(3000)
    assert held == [3000]


def test_the_quota_is_used_up_exactly() -> None:
    usage = Usage(period="2026-12", media_seconds=1800, reserved_seconds=1200)
    assert check_media_reservation(HOUR, usage, 600, NOW).allowed
    assert not check_media_reservation(HOUR, usage, 600.5, NOW).allowed


def test_unlimited_tiers_reserve_anything() -> None:
    enterprise = DEFAULT_LIMITS[Tier.ENTERPRISE]
    usage = Usage(period="2026-12", media_seconds=10**9, characters=10**12)
    assert check_media_reservation(enterprise, usage, 10**6, NOW).allowed
    assert check_characters(enterprise, usage, 10**9, NOW).allowed


def test_characters_are_checked_with_what_was_read_before() -> None:
    usage = Usage(period="2026-12", characters=400)
    assert check_characters(HOUR, usage, 600, NOW).allowed
    refused = check_characters(HOUR, usage, 601, NOW)
    assert not refused.allowed
    assert refused.limit == "monthly_characters"
    assert "601 characters do not fit; 400 used of 1,000" in refused.message


def test_reserved_media_counts_against_a_submit() -> None:
    """A submit is refused once settled plus reserved media reach the quota (before: settled only)."""
    usage = Usage(period="2026-12", media_seconds=0, reserved_seconds=3600, jobs=1)
    verdict = check_quota(HOUR, usage, NOW)
    assert not verdict.allowed
    assert "reserved by running jobs" in verdict.message
    assert check_quota(HOUR, Usage(period="2026-12", reserved_seconds=3599), NOW).allowed


def test_default_characters_quotas() -> None:
    assert DEFAULT_LIMITS[Tier.FREE].monthly_characters == 200_000
    assert DEFAULT_LIMITS[Tier.PRO].monthly_characters == 10_000_000
    assert DEFAULT_LIMITS[Tier.ENTERPRISE].monthly_characters is None
