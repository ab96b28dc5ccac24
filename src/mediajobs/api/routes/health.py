"""Liveness and readiness probes.

Neither may wait behind the requests they watch over: `/healthz` runs in the event loop and touches
nothing, and `/readyz` runs its checks in threads of its own (`PROBE_THREADS`), not in the pool that
routes, authentication and upload writes share, so a busy or drained pool cannot make a healthy
process look dead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mediajobs.api.schemas import Readiness
from mediajobs.wiring import Services

router = APIRouter(tags=["health"])

PROBE_THREADS = 2


def probe_pool() -> ThreadPoolExecutor:
    """The threads `/readyz` checks run in (one pool per app; see the module's docstring)."""
    return ThreadPoolExecutor(max_workers=PROBE_THREADS, thread_name_prefix="mediajobs-probe")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(request: Request) -> JSONResponse:
    """The database (migrated), the broker and the storage are reachable."""
    services: Services = request.app.state.services
    pool: ThreadPoolExecutor = request.app.state.probe_pool
    loop = asyncio.get_running_loop()
    database = await loop.run_in_executor(pool, _outcome, services.store.check_ready)
    broker = await loop.run_in_executor(pool, _outcome, services.broker_check)
    storage = await loop.run_in_executor(pool, _outcome, services.storage.check_ready)
    ready = database == broker == storage == "ok"
    body = Readiness(
        status="ok" if ready else "unavailable", database=database, broker=broker, storage=storage
    )
    return JSONResponse(status_code=200 if ready else 503, content=body.model_dump())


def _outcome(check: Callable[[], object]) -> str:
    try:
        check()
    except Exception as exc:
        return f"error: {exc}"[:300]
    return "ok"
