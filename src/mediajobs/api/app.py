"""Builds the FastAPI application."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from mediajobs import __version__
from mediajobs.api.access_log import install_redaction
from mediajobs.api.errors import install_error_handlers
from mediajobs.api.gate import SubmitGate, UploadSlots
from mediajobs.api.guards import ControlCharacterGuard
from mediajobs.api.keycache import KeyCache
from mediajobs.api.openapi import install_openapi
from mediajobs.api.routes import (
    batches,
    catalog,
    deliveries,
    events,
    health,
    jobs,
    me,
    metrics,
    openai_audio,
    pipelines,
    queues,
    uploads,
    workers,
)
from mediajobs.dashboard import install_dashboard
from mediajobs.hooks import ProcessInfo
from mediajobs.queue.maintenance import Maintenance
from mediajobs.registry import Registry, build_registry
from mediajobs.settings import Settings
from mediajobs.wiring import Services, build_services


def create_app_from_environment() -> FastAPI:
    """The API with the settings of the environment (each process of `mediajobs api --workers N`)."""
    from mediajobs.logconfig import configure_logging
    from mediajobs.settings import get_settings

    settings = get_settings()
    configure_logging(role="api", level=settings.log_level, log_format=settings.log_format)
    return create_app(settings)


def create_app(
    settings: Settings,
    services: Services | None = None,
    *,
    registry: Registry | None = None,
    maintenance: bool = False,
) -> FastAPI:
    """The API. Without `services` it builds its own (and checks the schema is migrated) at start-up,
    from `registry` (default: the one the settings build).

    The periodic maintenance (reaper, relay) runs in a worker (worker.py, `MaintenanceLoop`), not
    here: in an API process it took CPU from the requests, once per process. `maintenance=True` runs
    it in a background thread of this process too (tests that run no worker).
    """
    if registry is None:
        registry = services.registry if services is not None else build_registry(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = services is None
        if services is None:
            from mediajobs.engines import Engines

            # The API only publishes: no Celery tasks, and no engines (it never runs a stage).
            app.state.services = build_services(registry, registry.publisher(), engines=Engines())
        else:
            app.state.services = services
        app.state.gate = SubmitGate.from_settings(settings)
        app.state.services.capabilities.discover()  # what submits may ask for: models, pairs, voices
        stop = threading.Event()
        thread = None
        svc: Services = app.state.services
        if maintenance:
            thread = Maintenance(svc.store, svc.dispatcher, settings).start_thread(stop)
        me = ProcessInfo(role="api", hostname=socket.gethostname(), pid=os.getpid())
        svc.hooks.process_started(me)
        try:
            yield
        finally:
            svc.hooks.process_stopping(me)
            await app.state.services.progress.aclose()  # ends live followers; the feed is loop-bound
            stop.set()
            app.state.gate.close()
            if thread is not None:
                thread.join(timeout=10)
            if own:
                app.state.services.close()

    # Swagger UI and ReDoc from files inside the `fastapi-offline` package, not a CDN: /docs works
    # on a host with no internet access.
    app = FastAPIOffline(
        title="mediajobs",
        version=__version__,
        summary="Asynchronous media jobs: submit, follow, fetch results.",
        lifespan=lifespan,
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from validator.swagger.io
    )
    if services is not None:  # usable without the lifespan too (in-process test clients)
        app.state.services = services
        app.state.gate = SubmitGate.from_settings(settings)
    install_redaction()  # no API key from `?access_token=` in uvicorn's log lines
    app.state.upload_slots = UploadSlots(settings.max_concurrent_uploads)
    app.state.key_cache = KeyCache(settings.key_cache_seconds)
    app.state.probe_pool = health.probe_pool()
    install_error_handlers(app)
    app.add_middleware(ControlCharacterGuard)
    app.include_router(health.router)
    app.include_router(jobs.router)
    app.include_router(uploads.router)
    app.include_router(events.router)
    app.include_router(me.router)
    app.include_router(catalog.router)
    app.include_router(pipelines.router)
    app.include_router(queues.router)
    app.include_router(batches.router)
    app.include_router(workers.router)
    app.include_router(metrics.router)
    app.include_router(deliveries.router)
    app.include_router(openai_audio.router)
    app.webhooks.include_router(deliveries.webhooks)
    install_dashboard(app)  # /dashboard: server-rendered operator pages (docs/dashboard.md)
    install_openapi(app, registry.pipelines.values())
    return app
