"""The caller: who they are, their tier and lane, their limits, what they used this period, and what
is sent to them (the signing secret, its rotation; endpoints their receivers turned off)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from mediajobs import service
from mediajobs.api.delivery_schemas import (
    DisabledEndpointList,
    DisabledEndpointPublic,
    WebhookSecretPublic,
    endpoint_public,
)
from mediajobs.api.deps import CurrentUser, ServicesDep
from mediajobs.api.schemas import ErrorBody, LimitsPublic, MePublic, UsagePublic
from mediajobs.domain.tenancy import home_lane, next_period_start

router = APIRouter(prefix="/api/v1", tags=["me"])

ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorBody, "description": "No valid API key"}}
EndpointId = Annotated[
    str, Path(min_length=1, max_length=32, pattern="^[A-Za-z0-9_]+$", description="The endpoint's `id`.")
]


@router.get("/me", response_model=MePublic, responses={401: {"model": ErrorBody}})
def me(request: Request, owner: CurrentUser) -> MePublic:
    """Your user, tier, lane, limits, usage this period (and bytes stored now), and the secret what we
    send you is signed with."""
    limits = request.app.state.gate.limits_of(owner)
    services = request.app.state.services
    usage = services.store.users.usage(owner.user.id)  # fresh: the key check may be remembered
    secret, _, previous_until = services.store.users.webhook_secret_state(owner.user.id)
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
            stored_bytes=limits.stored_bytes,
            monthly_characters=limits.monthly_characters,
        ),
        usage=UsagePublic(
            period=usage.period,
            jobs=usage.jobs,
            media_minutes=round(usage.media_seconds / 60, 3),
            reserved_media_minutes=round(usage.reserved_seconds / 60, 3),
            characters=usage.characters,
            period_ends=next_period_start(services.store.db.clock()),
            stored_bytes=services.store.stored.used(owner.user.id),
        ),
        webhook_secret=secret,
        webhook_secret_previous_until=previous_until,
    )


@router.post("/me/webhook-secret/rotate", response_model=WebhookSecretPublic, responses=ERRORS)
def rotate_webhook_secret(services: ServicesDep, owner: CurrentUser) -> WebhookSecretPublic:
    """A new `webhook_secret`; for 24 hours messages carry a second signature with the old one, so
    your receivers can switch without refusing any."""
    secret, until = services.store.users.rotate_webhook_secret(owner.user.id)
    return WebhookSecretPublic(webhook_secret=secret, previous_valid_until=until)


@router.get("/me/webhook-endpoints", response_model=DisabledEndpointList, responses=ERRORS)
def disabled_endpoints(services: ServicesDep, owner: CurrentUser) -> DisabledEndpointList:
    """Your webhook endpoints disabled because their receiver answered 410 Gone."""
    found = services.store.endpoints.list_disabled(owner.user.id)
    return DisabledEndpointList(endpoints=[endpoint_public(e) for e in found])


@router.post(
    "/me/webhook-endpoints/{endpoint_id}/enable",
    response_model=DisabledEndpointPublic,
    responses={**ERRORS, 404: {"model": ErrorBody, "description": "No such disabled endpoint of yours"}},
)
def enable_endpoint(
    endpoint_id: EndpointId, services: ServicesDep, owner: CurrentUser
) -> DisabledEndpointPublic:
    """Deliver to it again (what failed meanwhile stays failed: redeliver it); answers the record it
    removed."""
    return endpoint_public(service.enable_endpoint(services, owner, endpoint_id))
