"""Who is calling: API keys sent as `Authorization: Bearer mj_...`.

Event streams also take the key where a browser can put it: `?access_token=` (EventSource and
WebSocket cannot set headers) or the `mediajobs_key` cookie. Every failure (no key, a malformed,
unknown or revoked key, a disabled user) is the same 401, so the answer tells an attacker nothing.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from mediajobs.errors import Unauthorized
from mediajobs.store import Caller
from mediajobs.wiring import Services

COOKIE = "mediajobs_key"
QUERY = "access_token"
MAX_KEY_LENGTH = 200


def key_of(connection: HTTPConnection, *, browser_forms: bool) -> str | None:
    header = connection.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("the Authorization header must be `Bearer <API key>`")
        return value.strip()
    if browser_forms:
        return connection.query_params.get(QUERY) or connection.cookies.get(COOKIE)
    return None


def check_key(services: Services, key: str | None) -> Caller:
    if not key:
        raise Unauthorized("an API key is required: send `Authorization: Bearer <API key>`")
    caller = services.store.users.authenticate(key) if len(key) <= MAX_KEY_LENGTH else None
    if caller is None:
        raise Unauthorized("the API key is not valid (unknown, revoked, or its user is disabled)")
    return caller


async def authenticate(request: Request) -> Caller:
    """The caller of an ordinary API route (header only)."""
    services: Services = request.app.state.services
    return await run_in_threadpool(check_key, services, key_of(request, browser_forms=False))


async def authenticate_stream(request: Request) -> Caller:
    """The caller of an event stream (header, `?access_token=` or the cookie)."""
    services: Services = request.app.state.services
    return await run_in_threadpool(check_key, services, key_of(request, browser_forms=True))


__all__ = ["COOKIE", "QUERY", "authenticate", "authenticate_stream", "check_key", "key_of"]
