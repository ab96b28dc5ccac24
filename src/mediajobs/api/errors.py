"""The one place that maps errors to HTTP: every error answers `{"error": {"code", "message"}}`, except
on the OpenAI-compatible routes (`/v1/...`), where it answers OpenAI's shape, `{"error": {"message",
"type", "param", "code"}}`, so OpenAI's client libraries raise their usual exceptions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from mediajobs.errors import (
    ClientError,
    Conflict,
    Forbidden,
    InvalidRequest,
    MediaJobsError,
    NotFound,
    NotMigrated,
    PayloadTooLarge,
    RequestTimeout,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from mediajobs.redact import MAX_MESSAGE

log = logging.getLogger(__name__)

STATUS_BY_ERROR: tuple[tuple[type[MediaJobsError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (RequestTimeout, 408),
    (Unauthorized, 401),
    (Forbidden, 403),
    (TooManyRequests, 429),
    (InvalidRequest, 422),
    (ClientError, 400),
    (NotMigrated, 503),
    (Unavailable, 503),
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
}
MAX_SHOWN_ERRORS = 5
_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


OPENAI_PREFIX = "/v1/"
"""The OpenAI-compatible routes (api/routes/openai_audio.py): their errors take OpenAI's shape."""

_OPENAI_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


def openai_error_type(status: int, code: str) -> str:
    """OpenAI's `type` for an error of this status (its client libraries pick the exception by status)."""
    if status == 429 and code == "quota_exceeded":
        return "insufficient_quota"
    if status >= 500:
        return "server_error"
    return _OPENAI_TYPES.get(status, "invalid_request_error")


def error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    request: Request | None = None,
    param: str | None = None,
) -> JSONResponse:
    """The error body; the message is bounded (a request can name a million bad keys). On the
    OpenAI-compatible routes (`request` under /v1/), OpenAI's shape with `type` and `param`."""
    content: dict[str, dict[str, str | None]]
    if request is not None and request.url.path.startswith(OPENAI_PREFIX):
        content = {
            "error": {
                "message": message[:MAX_MESSAGE],
                "type": openai_error_type(status, code),
                "param": None if param is None else param[:64],
                "code": code[:64],
            }
        }
    else:
        content = {"error": {"code": code[:64], "message": message[:MAX_MESSAGE]}}
    return JSONResponse(status_code=status, content=content, headers=headers)


def _headers(exc: MediaJobsError) -> dict[str, str] | None:
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": 'Bearer realm="mediajobs"'}
    if isinstance(exc, TooManyRequests):
        return {**exc.headers, "Retry-After": str(exc.retry_after)}
    return None


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route of `app` answers at the request's path (Starlette's own 405 names
    only the first route it found there, and the application's routers nest)."""
    return [
        method
        for method in _METHODS
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in app.router.routes)
    ]


def status_for(exc: MediaJobsError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 500


def _is_upload(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MediaJobsError)
    async def _mediajobs_error(request: Request, exc: MediaJobsError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.error("request failed: %s", exc)
        response = error_response(status, exc.code, exc.message, _headers(exc), request=request)
        if isinstance(exc, PayloadTooLarge | RequestTimeout) or _is_upload(request):
            # The rest of the body may still be on its way: close rather than read it to the end.
            response.headers["Connection"] = "close"
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        param = _first_param(errors)
        parts = []
        for err in errors[:MAX_SHOWN_ERRORS]:
            where = ".".join(str(p)[:40] for p in err.get("loc", ()) if p != "body")
            message = str(err.get("msg"))[:200]
            parts.append(f"{where}: {message}" if where else message)
        if len(errors) > MAX_SHOWN_ERRORS:
            parts.append(f"and {len(errors) - MAX_SHOWN_ERRORS} more")
        message = "; ".join(parts) or "invalid request"
        return error_response(422, "validation_error", message, request=request, param=param)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110: a 405 lists the methods the resource has
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
        return error_response(exc.status_code, code, str(exc.detail), headers or None, request=request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not bad input: still the JSON body (and the traceback in the log, not the answer).
        log.error("unhandled error", exc_info=exc)
        message = "the server failed to handle this request"
        return error_response(500, "internal_error", message, request=request)


def _first_param(errors: Sequence[Any]) -> str | None:
    """The request field the first validation error is about (OpenAI's `param`), e.g. `input`."""
    for err in errors:
        where = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "header", "form")]
        if where:
            return ".".join(where)
    return None
