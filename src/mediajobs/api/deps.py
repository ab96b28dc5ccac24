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

# The dependencies are `async def` though they do no I/O: FastAPI runs a plain `def` dependency in
# the thread pool, and a request should not need a thread just to be handed its services.


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_store(request: Request) -> JobStore:
    return (await get_services(request)).store


async def get_settings_dep(request: Request) -> Settings:
    return (await get_services(request)).settings


async def parse_job_id(job_id: str) -> uuid.UUID:
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
