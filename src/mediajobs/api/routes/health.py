"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from mediajobs.api.deps import ServicesDep
from mediajobs.api.schemas import Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(services: ServicesDep) -> JSONResponse:
    """The database (migrated) and the broker are reachable."""
    database = broker = "ok"
    try:
        services.store.check_ready()
    except Exception as exc:
        database = f"error: {exc}"[:300]
    try:
        services.broker_check()
    except Exception as exc:
        broker = f"error: {exc}"[:300]
    ready = database == "ok" and broker == "ok"
    body = Readiness(status="ok" if ready else "unavailable", database=database, broker=broker)
    return JSONResponse(status_code=200 if ready else 503, content=body.model_dump())
