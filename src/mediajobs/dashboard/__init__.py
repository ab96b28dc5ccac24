"""The operators' dashboard at /dashboard: server-rendered pages (Jinja2 templates in this package, a
little JavaScript served from it, nothing from the internet) that read the database, so they show the
same history after a restart, and act through the application layer (mediajobs.service).

    session.py   login with an API key -> a session cookie; CSRF tokens; who is looking
    render.py    the templates' environment and filters
    views.py     the pages (overview, jobs, a job, failed, queues, workers, batches, users)
    actions.py   the forms' POSTs (retry, cancel, retry all matching, pause/resume a lane, redeliver)

docs/dashboard.md describes it for operators.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from .actions import router as actions_router
from .session import install_login_redirect
from .session import router as session_router
from .views import router as views_router

STATIC = Path(__file__).parent / "static"


def install_dashboard(app: FastAPI) -> None:
    """Mount the dashboard's routes and static files on the API app."""
    install_login_redirect(app)
    app.include_router(session_router)
    app.include_router(views_router)
    app.include_router(actions_router)
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")


__all__ = ["install_dashboard"]
