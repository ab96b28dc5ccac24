"""The caller: who they are, their tier and lane, their limits, and what they used this period."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mediajobs.api.deps import CurrentUser
from mediajobs.api.schemas import ErrorBody, LimitsPublic, MePublic, UsagePublic
from mediajobs.domain.tenancy import home_lane, next_period_start

router = APIRouter(prefix="/api/v1", tags=["me"])


@router.get("/me", response_model=MePublic, responses={401: {"model": ErrorBody}})
def me(request: Request, owner: CurrentUser) -> MePublic:
    """Your user, tier, lane, limits, usage this period, and the secret what we send you is signed with."""
    limits = request.app.state.gate.limits_of(owner)
    services = request.app.state.services
    usage = services.store.users.usage(owner.user.id)  # fresh: the key check may be remembered
    return MePublic(
        id=owner.user.id,
        name=owner.user.name,
        tier=owner.user.tier.value,
        admin=owner.user.is_admin,
        lane=home_lane(owner.user.tier).value,
        limits=LimitsPublic(
            concurrency=limits.concurrency,
            monthly_media_minutes=None
            if limits.monthly_media_seconds is None
            else limits.monthly_media_seconds / 60,
            monthly_jobs=limits.monthly_jobs,
            submits_per_minute=limits.submits_per_minute,
        ),
        usage=UsagePublic(
            period=usage.period,
            jobs=usage.jobs,
            media_minutes=round(usage.media_seconds / 60, 3),
            period_ends=next_period_start(services.store.db.clock()),
        ),
        webhook_secret=services.store.users.webhook_secret(owner.user.id),
    )
