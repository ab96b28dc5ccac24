"""Prometheus metrics: GET /metrics, in the text exposition format.

What the API process counted (submits, cancels, reaped leases; every API process's in multiprocess
mode) and the deployment's state read at scrape time (monitoring/state.py). Open unless
MEDIAJOBS_METRICS_TOKEN is set, then only with `Authorization: Bearer <token>`. Not in the OpenAPI
document: it is for Prometheus, not for API clients (docs/operations.md lists the metrics).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from mediajobs.errors import Unauthorized
from mediajobs.monitoring.exposition import ProcessMetrics, render
from mediajobs.monitoring.state import StateCollector
from mediajobs.wiring import Services

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus metrics of this API process and of the deployment's state."""
    services: Services = request.app.state.services
    token = services.settings.metrics_token
    if token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise Unauthorized("GET /metrics wants `Authorization: Bearer <MEDIAJOBS_METRICS_TOKEN>`")
    return Response(render(ProcessMetrics(), state_of(request, services)), media_type=CONTENT_TYPE_LATEST)


def state_of(request: Request, services: Services) -> StateCollector:
    """The app's state collector (one per app, so its cache serves every scrape)."""
    state: StateCollector | None = getattr(request.app.state, "metrics_state", None)
    if state is None or state.store is not services.store:
        state = StateCollector(
            services.store,
            services.dispatcher.publisher,
            services.registry.queue_table(),
            worker_silence=services.settings.worker_silence,
            ttl=services.settings.metrics_cache_seconds,
        )
        request.app.state.metrics_state = state
    return state
