"""Progress events: a job's as Server-Sent Events or over a WebSocket, and all of a user's jobs' as SSE."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request, Response, WebSocket
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.websockets import WebSocketDisconnect, WebSocketState

from mediajobs.api.auth import by_cookie, check_connection, key_of, origin_allowed, while_authorized
from mediajobs.api.deps import JobId, ServicesDep, StreamUser
from mediajobs.api.event_ids import event_ids, real_id, shown_events
from mediajobs.api.schemas import ErrorBody
from mediajobs.domain.events import ProgressEvent
from mediajobs.errors import InvalidRequest, NotFound, Unauthorized
from mediajobs.progress import follow_job, follow_owner
from mediajobs.progress.cursor import MAX_SHOWN_ID
from mediajobs.progress.sse import (
    HEADERS,
    HEARTBEAT,
    MEDIA_TYPE,
    UNAUTHORIZED,
    encode_event,
    encode_retry,
)
from mediajobs.wiring import Services

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["events"])

RETRY_MS = 1000  # how long EventSource waits before reconnecting
WS_NOT_FOUND = 4404  # WebSocket close code for an unknown job (4000-4999: application codes)
WS_UNAUTHORIZED = 4401  # ... and for a missing or invalid API key
WS_FORBIDDEN = 4403  # ... and for a cookie-authenticated socket opened from another site's page
WS_POLICY_VIOLATION = 1008  # RFC 6455: a message (here the URL) that breaks the endpoint's rules
COOKIE_ORIGIN_REFUSED = (
    "key cookie refused from this Origin (not the API's, not in MEDIAJOBS_ALLOWED_ORIGINS)"
)
MAX_CLOSE_REASON = 123  # bytes: a close frame is at most 125, two of them the code

_EVENT_STREAM = {
    "description": "`text/event-stream`: `id`, `event` (`state` or `progress`) and `data` (the event as JSON)"
    " per event; a comment line as a keep-alive every 15 s.",
    "content": {
        MEDIA_TYPE: {
            # OpenAPI 3.1 has a stream's `schema` describe one event (3.2 names that `itemSchema`).
            "schema": {
                "type": "object",
                "description": "One Server-Sent Event; its `data` is an EventPublic as JSON.",
                "required": ["data", "event"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[0-9]+$"},
                    "event": {"type": "string", "enum": ["state", "progress"]},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": {"$ref": "#/components/schemas/EventPublic"},
                    },
                    "retry": {"type": "integer"},
                },
            },
        }
    },
}
_FINISHED = {"description": "The job has ended and the client has every event: nothing to stream."}


MAX_SEQ = 2**31 - 1  # a job's events are numbered in a 32-bit column
MAX_EVENT_ID = MAX_SHOWN_ID  # the user stream's ids: 62-bit, opaque (progress/cursor.py)


def _resume_point(header: str | None, query: int | None, maximum: int) -> int | None:
    """The client's last event id, from `Last-Event-ID` (sent by EventSource on reconnect) or the
    query, which wins; a malformed header is refused even then."""
    from_header = None
    if header is not None and header.strip():
        text = header.strip()
        if not text.isdigit() or len(text) > 19 or int(text) > maximum:
            raise InvalidRequest(
                f"Last-Event-ID must be an event id given by this stream (0 to {maximum}),"
                f" not {header[:40]!r}",
                code="invalid_last_event_id",
            )
        from_header = int(text)
    return query if query is not None else from_header


def _ws_resume_point(raw: str | None) -> int:
    """`?last_event_id=` of a WebSocket, read after the handshake (FastAPI's own check of a query
    parameter would refuse the handshake itself: an HTTP 403 with no reason, not the 1008)."""
    if raw is None:
        return 0
    text = raw.strip()
    if text and (not text.isdigit() or len(text) > 10 or int(text) > MAX_SEQ):
        raise InvalidRequest(
            f"last_event_id must be an event seq of this job (0 to {MAX_SEQ}), not {raw[:40]!r}",
            code="invalid_last_event_id",
        )
    return int(text) if text else 0


async def _sse(
    events: AsyncIterator[ProgressEvent | None], event_id: Callable[[ProgressEvent], int]
) -> AsyncIterator[bytes]:
    yield encode_retry(RETRY_MS)
    try:
        async for event in events:
            yield HEARTBEAT if event is None else encode_event(event, event_id=event_id(event))
    except Unauthorized:
        yield UNAUTHORIZED  # the stream ends; EventSource's reconnect then gets the 401


LastEventId = Annotated[
    str | None, Header(description="The `id` of the last event received; replays what came after it.")
]
_RESUME_HELP = "Same as the Last-Event-ID header (for clients that cannot set headers); wins over it."
JobResumeQuery = Annotated[
    int | None, Query(alias="last_event_id", ge=0, le=MAX_SEQ, description=_RESUME_HELP)
]
UserResumeQuery = Annotated[
    int | None, Query(alias="last_event_id", ge=0, le=MAX_EVENT_ID, description=_RESUME_HELP)
]


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: _EVENT_STREAM,
        204: _FINISHED,
        401: {"model": ErrorBody},
        404: {"model": ErrorBody},
        422: {"model": ErrorBody},
    },
)
async def job_events(
    request: Request,
    job_id: JobId,
    services: ServicesDep,
    owner: StreamUser,
    last_event_id: LastEventId = None,
    resume: JobResumeQuery = None,
) -> Response:
    """A job's progress as Server-Sent Events (id = seq): what was missed, then live, until it ends."""
    after = _resume_point(last_event_id, resume, MAX_SEQ) or 0
    key = key_of(request, browser_forms=True)
    heartbeat = services.progress.timings.heartbeat

    def guard(
        events: AsyncGenerator[ProgressEvent | None, None],
    ) -> AsyncGenerator[ProgressEvent | None, None]:
        return while_authorized(events, request, key, heartbeat)

    return await job_event_stream(request, services, owner.scope, job_id, after, guard)


Guard = Callable[[AsyncGenerator[ProgressEvent | None, None]], AsyncGenerator[ProgressEvent | None, None]]
"""Wraps a stream's events, raising Unauthorized once its viewer may no longer see them (a revoked
key, a disabled user, an ended dashboard session), checked at each keep-alive."""


async def job_event_stream(
    request: Request, services: Services, scope: str | None, job_id: uuid.UUID, after: int, guard: Guard
) -> Response:
    """The SSE response of a job's events after seq `after` (404 outside `scope`; 204 when it has
    ended and nothing is left), for as long as `guard` lets them through: this route's, and the
    dashboard's job page's."""
    store = services.store
    job = await run_in_threadpool(store.jobs.get_job, job_id, scope)
    if job.status.terminal and not await run_in_threadpool(
        store.events.job_events, job_id, after_seq=after, limit=1
    ):
        return Response(status_code=204)  # EventSource stops reconnecting on 204
    progress = services.progress
    stream = guard(follow_job(store.events, progress.feed, job_id, after_seq=after, timings=progress.timings))
    ids = await event_ids(request, job.owner_id)
    return StreamingResponse(
        _sse(shown_events(stream, ids), lambda e: e.seq), media_type=MEDIA_TYPE, headers=HEADERS
    )


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: _EVENT_STREAM, 401: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
async def user_events(
    request: Request,
    services: ServicesDep,
    owner: StreamUser,
    last_event_id: LastEventId = None,
    resume: UserResumeQuery = None,
) -> StreamingResponse:
    """Every job's progress of the caller as Server-Sent Events; never ends. An event's id is opaque
    (unique, not in order): send the last one back as Last-Event-ID to resume."""
    ids = await event_ids(request, owner.user.id)
    after = real_id(ids, _resume_point(last_event_id, resume, MAX_EVENT_ID))
    progress = services.progress
    stream = while_authorized(
        follow_owner(
            services.store.events, progress.feed, owner.user.id, after_id=after, timings=progress.timings
        ),
        request,
        key_of(request, browser_forms=True),
        progress.timings.heartbeat,
    )
    return StreamingResponse(
        _sse(shown_events(stream, ids), lambda e: e.id), media_type=MEDIA_TYPE, headers=HEADERS
    )


@router.websocket("/jobs/{job_id}/ws")
async def job_events_ws(
    websocket: WebSocket,
    job_id: str,
    last_event_id: Annotated[str | None, Query(description=_RESUME_HELP)] = None,
) -> None:
    """A job's progress over a WebSocket: one JSON text message per event (with its `seq`; pass the
    last one as `?last_event_id=` to resume); closed with 1000 after the final event, 1008 for a
    malformed `last_event_id`, 4401 without a valid API key (header, `?access_token=` or the
    `mediajobs_key` cookie) or once it is revoked or its user disabled (checked again at each
    keep-alive interval), 4403 for a cookie sent from another site's page, 4404 for an unknown job.
    Every refusal comes after the handshake, with a reason: the client sees why."""
    services: Services = websocket.app.state.services
    await websocket.accept()
    try:
        resume = _ws_resume_point(last_event_id)
    except InvalidRequest as exc:
        await websocket.close(code=WS_POLICY_VIOLATION, reason=_close_reason(exc.message))
        return
    if by_cookie(websocket) and not origin_allowed(websocket, services.settings.allowed_origins):
        await websocket.close(code=WS_FORBIDDEN, reason=COOKIE_ORIGIN_REFUSED)
        return
    key = key_of(websocket, browser_forms=True)
    try:
        caller = await check_connection(websocket, key)
    except Unauthorized as exc:
        await websocket.close(code=WS_UNAUTHORIZED, reason=_close_reason(exc.message))
        return
    try:
        parsed = uuid.UUID(job_id)
        job = await run_in_threadpool(services.store.jobs.get_job, parsed, caller.scope)
    except (ValueError, NotFound):
        await websocket.close(code=WS_NOT_FOUND, reason="no such job")
        return
    progress = services.progress
    finished = False
    refused: Unauthorized | None = None
    follow = shown_events(
        while_authorized(
            follow_job(
                services.store.events, progress.feed, parsed, after_seq=resume, timings=progress.timings
            ),
            websocket,
            key,
            progress.timings.heartbeat,
        ),
        await event_ids(websocket, job.owner_id),
    )
    async with aclosing(follow) as stream, anyio.create_task_group() as tg:
        tg.start_soon(_until_disconnect, websocket, tg.cancel_scope)
        try:
            async for event in stream:
                if event is not None:
                    await websocket.send_text(_ws_message(event))
            finished = True
        except WebSocketDisconnect:
            pass
        except Unauthorized as exc:  # the key was revoked or its user disabled while streaming
            refused = exc
        tg.cancel_scope.cancel()
    if websocket.client_state is WebSocketState.CONNECTED:
        if refused is not None:
            await websocket.close(code=WS_UNAUTHORIZED, reason=_close_reason(refused.message))
        else:
            # 1000: the job ended and every event was sent; 1012: the server is restarting, reconnect
            await websocket.close(code=1000 if finished else 1012)


async def _until_disconnect(websocket: WebSocket, scope: anyio.CancelScope) -> None:
    """Reads (and ignores) what the client sends; stops the stream when it goes away."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            scope.cancel()
            return


def _close_reason(text: str) -> str:
    return text.encode()[:MAX_CLOSE_REASON].decode(errors="ignore")


def _ws_message(event: ProgressEvent) -> str:
    data: dict[str, Any] = event.to_json()
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
