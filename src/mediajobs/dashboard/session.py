"""Who looks at the dashboard: a login with an API key opens a server-side session (store/sessions.py)
whose random token the browser keeps in the `mediajobs_session` cookie: HttpOnly (no script reads it),
SameSite=Strict (no other site's page makes the browser send it), Secure when the request came over
https (directly or, behind a proxy, per `X-Forwarded-Proto` / `Forwarded`), Path=/dashboard. Every
form carries the session's CSRF token and every POST is refused (403) without it."""

from __future__ import annotations

import hmac
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mediajobs.api.auth import check_key
from mediajobs.domain.events import ProgressEvent
from mediajobs.domain.tenancy import Usage, period_of
from mediajobs.errors import Forbidden, Unauthorized
from mediajobs.store import Caller, Session
from mediajobs.wiring import Services

from .render import page

COOKIE = "mediajobs_session"
PATH = "/dashboard"
CSRF_FIELD = "csrf"

router = APIRouter(prefix=PATH, include_in_schema=False)


class LoginRequired(Exception):
    """Raised when a dashboard page is asked for without a live session: answered by the login page."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Viewer:
    """The person looking: their session, and the caller the application layer acts for."""

    session: Session
    caller: Caller
    token: str

    @property
    def admin(self) -> bool:
        return self.session.user.is_admin

    @property
    def scope(self) -> str | None:
        return self.caller.scope


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def viewer(request: Request) -> Viewer:
    token = request.cookies.get(COOKIE, "")
    services = _services(request)
    session = await run_in_threadpool(services.store.sessions.get, token) if token else None
    if session is None:
        raise LoginRequired
    usage = Usage(period=period_of(services.store.db.clock()))
    caller = Caller(user=session.user, key_id=session.key_id, usage=usage)
    return Viewer(session=session, caller=caller, token=token)


async def form_viewer(request: Request) -> Viewer:
    """The viewer of a POST, whose form must carry the session's CSRF token."""
    who = await viewer(request)
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, who.session.csrf_token):
        raise Forbidden("the form's CSRF token is missing or wrong: reload the page", code="csrf_failed")
    return who


async def while_session(
    events: AsyncGenerator[ProgressEvent | None, None], request: Request, token: str
) -> AsyncGenerator[ProgressEvent | None, None]:
    """A job page's `events` for as long as its session lives: checked again at each keep-alive (a
    None), so a logout, an expiry, a revoked key or a disabled user stops the stream."""
    services = _services(request)
    async with aclosing(events) as stream:
        async for event in stream:
            if event is None and await run_in_threadpool(services.store.sessions.get, token) is None:
                raise Unauthorized("the dashboard session has ended: log in again")
            yield event


Looker = Annotated[Viewer, Depends(viewer)]
Poster = Annotated[Viewer, Depends(form_viewer)]


def over_tls(request: Request) -> bool:
    """The browser reached us over https: directly, or through a proxy that says so."""
    if request.url.scheme == "https":
        return True
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    forwarded = request.headers.get("forwarded", "").split(",")[0].lower().replace(" ", "")
    return proto == "https" or "proto=https" in forwarded.split(";")


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-site form (browsers send Origin with every POST)
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return page(request, "login.html", viewer=None, error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the API key, open a session, set its cookie."""
    services = _services(request)
    form = await request.form()
    key = form.get("api_key")
    if not _same_origin(request):
        return page(request, "login.html", viewer=None, error="refused: another site's form", status=403)
    try:
        caller = await run_in_threadpool(check_key, services, key if isinstance(key, str) else None)
    except Unauthorized:
        return page(request, "login.html", viewer=None, error="That API key is not valid.", status=401)
    ttl = timedelta(hours=services.settings.dashboard_session_hours)
    token = await run_in_threadpool(services.store.sessions.open, caller.user.id, caller.key_id, ttl=ttl)
    response = RedirectResponse(f"{PATH}/", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=over_tls(request),
    )
    return response


@router.post("/logout")
async def logout(request: Request, who: Poster) -> Response:
    await run_in_threadpool(_services(request).store.sessions.close, who.token)
    response = RedirectResponse(f"{PATH}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict", secure=over_tls(request))
    return response


def install_login_redirect(app: FastAPI) -> None:
    async def _to_login(request: Request, exc: Exception) -> Response:
        if request.method == "GET" and not request.url.path.endswith("/events"):
            return RedirectResponse(f"{PATH}/login", status_code=303)
        return Response("log in first", status_code=401, media_type="text/plain")

    app.add_exception_handler(LoginRequired, _to_login)


__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "LoginRequired",
    "Looker",
    "Poster",
    "Viewer",
    "install_login_redirect",
    "while_session",
]
