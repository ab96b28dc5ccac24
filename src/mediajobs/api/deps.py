"""Dependencies of the routes, as `Annotated` aliases."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from mediajobs.api.auth import authenticate, authenticate_stream
from mediajobs.errors import NotFound
from mediajobs.settings import Settings
from mediajobs.store import Caller, JobStore
from mediajobs.wiring import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_store(request: Request) -> JobStore:
    return get_services(request).store


def get_settings_dep(request: Request) -> Settings:
    return get_services(request).settings


def parse_job_id(job_id: str) -> uuid.UUID:
    """A malformed id names no job: 404, like any unknown id."""
    try:
        return uuid.UUID(job_id)
    except ValueError:
        raise NotFound(f"no job with id {job_id[:100]!r}") from None


ServicesDep = Annotated[Services, Depends(get_services)]
StoreDep = Annotated[JobStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CurrentUser = Annotated[Caller, Depends(authenticate)]
"""The caller (user, key, usage this period); `.scope` is what they may read (None: an admin, all)."""
StreamUser = Annotated[Caller, Depends(authenticate_stream)]
JobId = Annotated[uuid.UUID, Depends(parse_job_id)]
