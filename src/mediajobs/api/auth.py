"""Who is calling: API keys sent as `Authorization: Bearer mj_...`.

Event streams also take the key where a browser can put it: `?access_token=` (EventSource and
WebSocket cannot set headers) or the `mediajobs_key` cookie. Every failure (no key, a malformed,
unknown or revoked key, a disabled user) is the same 401, so the answer tells an attacker nothing.

A browser sends the cookie with a WebSocket opened by any site's page, and no CORS rule stops that
page from reading the socket; so a cookie counts only on a socket whose `Origin` is the API's own
(`origin_allowed`) or one the operator listed (`MEDIAJOBS_ALLOWED_ORIGINS`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Iterable
from contextlib import aclosing
from typing import TypeVar
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from mediajobs.api.keycache import KeyCache
from mediajobs.errors import Unauthorized
from mediajobs.store import Caller
from mediajobs.wiring import Services

T = TypeVar("T")

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


def by_cookie(connection: HTTPConnection) -> bool:
    """True when a stream's key can only come from the cookie (no header, no `?access_token=`)."""
    return (
        not connection.headers.get("authorization")
        and not connection.query_params.get(QUERY)
        and bool(connection.cookies.get(COOKIE))
    )


def origin_allowed(connection: HTTPConnection, allowed: Iterable[str]) -> bool:
    """The `Origin` header names the API itself (its host and port are the `Host` header's) or one of
    `allowed`; no Origin, `null`, or any other site: False."""
    origin = connection.headers.get("origin", "").strip().lower().rstrip("/")
    if not origin or origin == "null":
        return False
    if origin in {o.strip().lower().rstrip("/") for o in allowed}:
        return True
    parts = urlsplit(origin)
    host = connection.headers.get("host", "").strip().lower()
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc == host


def check_key(services: Services, key: str | None, cache: KeyCache | None = None) -> Caller:
    """The caller `key` belongs to (through `cache` when given), or Unauthorized."""
    if not key:
        raise Unauthorized("an API key is required: send `Authorization: Bearer <API key>`")
    caller = None
    if len(key) <= MAX_KEY_LENGTH:
        authenticate = services.store.users.authenticate
        caller = authenticate(key) if cache is None else cache.check(key, authenticate)
    if caller is None:
        raise Unauthorized("the API key is not valid (unknown, revoked, or its user is disabled)")
    return caller


async def authenticate(request: Request) -> Caller:
    """The caller of an ordinary API route (header only)."""
    key = key_of(request, browser_forms=False)
    return await _check(request, key)


async def authenticate_stream(request: Request) -> Caller:
    """The caller of an event stream (header, `?access_token=` or the cookie)."""
    return await _check(request, key_of(request, browser_forms=True))


async def check_connection(connection: HTTPConnection, key: str | None) -> Caller:
    """`check_key` for a connection of this app (an HTTP request or a WebSocket)."""
    return await _check(connection, key)


async def _check(connection: HTTPConnection, key: str | None) -> Caller:
    """The key checked against this process's cache of recent checks; a miss reads the database (in
    the thread pool: never on the event loop)."""
    state = connection.app.state
    cache: KeyCache = state.key_cache
    if key and cache.ttl > 0:
        remembered = cache.peek(key)
        if remembered is not None:
            return remembered
    return await run_in_threadpool(check_key, state.services, key, cache)


async def while_authorized(
    events: AsyncGenerator[T | None, None], connection: HTTPConnection, key: str | None, every: float
) -> AsyncGenerator[T | None, None]:
    """An event stream's `events` for as long as `key` stays valid: checked again at each keep-alive
    (a None) and at least every `every` seconds while events flow. A stream authenticates once when
    it opens; a key revoked or a user disabled since must stop receiving, within the key cache's
    time of it. Raises Unauthorized when the check fails."""
    checked = time.monotonic()
    async with aclosing(events) as stream:
        async for event in stream:
            if event is None or time.monotonic() - checked >= every:
                await _check(connection, key)
                checked = time.monotonic()
            yield event


__all__ = [
    "COOKIE",
    "QUERY",
    "authenticate",
    "authenticate_stream",
    "by_cookie",
    "check_connection",
    "check_key",
    "key_of",
    "origin_allowed",
    "while_authorized",
]
