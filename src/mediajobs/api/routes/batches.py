"""Batches: submit many items at once, follow them, cancel or retry them, fetch their files as a zip."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from mediajobs.api.auth import key_of, while_authorized
from mediajobs.api.batch_schemas import BatchCreate, BatchList
from mediajobs.api.deps import CurrentUser, ServicesDep, StreamUser
from mediajobs.api.event_ids import event_ids, real_id
from mediajobs.api.guards import check_options, check_text
from mediajobs.api.schemas import BODY_ERRORS, ErrorBody
from mediajobs.api.submission import describe, read_json_body
from mediajobs.domain import Batch, BatchStatus
from mediajobs.domain.events import ProgressEvent
from mediajobs.errors import InvalidRequest, NotFound, Unauthorized
from mediajobs.progress import follow_owner
from mediajobs.progress.sse import (
    HEADERS,
    HEARTBEAT,
    MEDIA_TYPE,
    UNAUTHORIZED,
    encode_event,
    encode_retry,
)
from mediajobs.public import BatchPublic, batch_public
from mediajobs.service.batches import (
    BatchItemRequest,
    BatchRequest,
    batch_archive,
    cancel_batch,
    retry_batch,
    submit_batch,
)

router = APIRouter(prefix="/api/v1/batches", tags=["batches"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No valid API key"},
    404: {"model": ErrorBody, "description": "No such batch"},
    409: {"model": ErrorBody, "description": "The batch is in the wrong state"},
}
ITEMS_PER_PAGE = 100
MAX_BATCH_JSON_BYTES = 16 * 1024 * 1024  # 1,000 items with their options and texts


def parse_batch_id(batch_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(batch_id)
    except ValueError:
        raise NotFound(f"no batch with id {batch_id[:100]!r}") from None


@router.post(
    "",
    status_code=202,
    response_model=BatchPublic,
    responses={
        **BODY_ERRORS,
        409: {"model": ErrorBody, "description": "The Idempotency-Key was used for another request"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchCreate"}}},
        }
    },
)
async def create_batch(
    request: Request,
    response: Response,
    services: ServicesDep,
    owner: CurrentUser,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> BatchPublic:
    """Submit up to 1,000 items at once (each a source or a text, with the batch's pipeline and options
    unless it names its own); every item is checked first, and one bad item refuses them all (422
    naming its index). Items run in the `batch` lane; `callback_url` gets the batch's JSON when it ends."""
    response.headers.update(request.app.state.gate.check(owner, services.store.db.clock()))
    raw = await read_json_body(request, services.settings.body_idle_timeout_seconds, MAX_BATCH_JSON_BYTES)
    try:
        body = BatchCreate.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidRequest(describe(exc), code="validation_error") from None
    batch_request = BatchRequest(
        pipeline=check_text(body.pipeline, "pipeline"),
        options=check_options(body.options),
        name=None if body.name is None else check_text(body.name, "name"),
        callback_url=None if body.callback_url is None else check_text(body.callback_url, "callback_url"),
        items=[
            BatchItemRequest(
                source=None if item.source is None else check_text(item.source, f"items[{i}].source"),
                text=None if item.text is None else check_text(item.text, f"items[{i}].text", multiline=True),
                pipeline=None if item.pipeline is None else check_text(item.pipeline, f"items[{i}].pipeline"),
                options=check_options(item.options),
                name=None if item.name is None else check_text(item.name, f"items[{i}].name"),
            )
            for i, item in enumerate(body.items)
        ],
    )
    batch, created = await run_in_threadpool(
        submit_batch, services, owner, batch_request, idempotency_key=idempotency_key
    )
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/batches/{batch.id}"
    return batch_public(batch)


@router.get("", response_model=BatchList)
def list_batches(
    services: ServicesDep, owner: CurrentUser, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> BatchList:
    """Your batches, newest first (an admin sees everybody's)."""
    return BatchList(
        batches=[
            batch_public(b) for b in services.store.batches.list_batches(owner_id=owner.scope, limit=limit)
        ]
    )


@router.get("/{batch_id}", response_model=BatchPublic, responses=ERRORS)
def get_batch(
    batch_id: str,
    services: ServicesDep,
    owner: CurrentUser,
    after: Annotated[int, Query(ge=-1, le=1_000_000, description="Items after this index.")] = -1,
    limit: Annotated[int, Query(ge=1, le=1000)] = ITEMS_PER_PAGE,
) -> BatchPublic:
    """The batch's status, counts per status and progress, and a page of its items in order."""
    batch = services.store.batches.get_batch(parse_batch_id(batch_id), owner.scope)
    rows = services.store.batches.item_page(batch.id, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return batch_public(batch, rows, next_after=rows[-1].batch_index if more and rows else None)


@router.post("/{batch_id}/cancel", response_model=BatchPublic, responses=ERRORS)
def cancel(batch_id: str, services: ServicesDep, owner: CurrentUser) -> BatchPublic:
    """Cancel its unfinished items (running stages stop); the batch ends `cancelled` with the last."""
    return batch_public(cancel_batch(services, owner, parse_batch_id(batch_id)))


@router.post(
    "/{batch_id}/retry",
    status_code=202,
    response_model=BatchPublic,
    responses={**ERRORS, 429: {"model": ErrorBody, "description": "Past the quota or rate limit"}},
)
def retry(
    batch_id: str, request: Request, response: Response, services: ServicesDep, owner: CurrentUser
) -> BatchPublic:
    """Run its failed and cancelled items again (each from its first unfinished stage; under the
    same monthly quota and submit rate limit as a submit)."""
    response.headers.update(request.app.state.gate.check(owner, services.store.db.clock(), adding=0))
    return batch_public(retry_batch(services, owner, parse_batch_id(batch_id)))


@router.get(
    "/{batch_id}/artifacts",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {"schema": {}}}, "description": "A zip, streamed"},
        **ERRORS,
    },
)
def artifacts(
    batch_id: str,
    services: ServicesDep,
    owner: CurrentUser,
    pick: Annotated[
        str | None,
        Query(
            alias="artifacts",
            max_length=200,
            pattern=r"^[A-Za-z0-9]{1,10}(,[A-Za-z0-9]{1,10})*$",
            description="Which files, by suffix (`srt,json`); default: all.",
        ),
    ] = None,
) -> StreamingResponse:
    """The items' files as one zip (`<item name>/<file>`), streamed while it is built."""
    parsed = parse_batch_id(batch_id)
    stream = batch_archive(services, owner, parsed, pick.split(",") if pick else None)
    return StreamingResponse(
        stream,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="batch-{parsed}.zip"'},
    )


@router.get(
    "/{batch_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
            "description": "Item endings, then the batch's end",
        },
        204: {"description": "The batch has ended and the client has every event"},
        **ERRORS,
    },
)
async def events(
    request: Request,
    batch_id: str,
    services: ServicesDep,
    owner: StreamUser,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    """Server-Sent Events: each item's end (`event: state`, an opaque event id), then the batch's
    own end (`event: batch`, its state as data); what `Last-Event-ID` missed is replayed first."""
    parsed = parse_batch_id(batch_id)
    store = services.store
    batch = await run_in_threadpool(store.batches.get_batch, parsed, owner.scope)
    items = set(await run_in_threadpool(store.batches.item_ids, parsed))
    ids = await event_ids(request, batch.owner_id)
    after = real_id(ids, _after(last_event_id))
    if after is None:
        after = await run_in_threadpool(store.events.first_event_id, sorted(items))
    if batch.status is not BatchStatus.RUNNING:  # ended: what the client missed, then the end
        missed = await run_in_threadpool(store.events.job_endings, sorted(items), after or 0)
        if not missed:
            return Response(status_code=204)  # EventSource stops reconnecting on 204
        shown = [ids.event(e) for e in missed]
        return StreamingResponse(_replay(shown, batch), media_type=MEDIA_TYPE, headers=HEADERS)
    progress = services.progress
    stream = while_authorized(
        follow_owner(store.events, progress.feed, batch.owner_id, after_id=after, timings=progress.timings),
        request,
        key_of(request, browser_forms=True),
        progress.timings.heartbeat,
    )

    async def body() -> AsyncIterator[bytes]:
        yield encode_retry(1000)
        last = ids.shown(after or 0)
        try:
            async for event in stream:
                if event is None:
                    yield HEARTBEAT
                    continue
                if event.job_id not in items or not event.final:
                    continue
                event = ids.event(event)
                last = event.id
                yield encode_event(event, event_id=event.id)
                now = await run_in_threadpool(store.batches.get_batch, parsed)
                if now.status is not BatchStatus.RUNNING:
                    yield _batch_event(now, last)
                    return
        except Unauthorized:  # the key was revoked or its user disabled: the reconnect gets the 401
            yield UNAUTHORIZED

    return StreamingResponse(body(), media_type=MEDIA_TYPE, headers=HEADERS)


async def _replay(missed: list[ProgressEvent], batch: Batch) -> AsyncIterator[bytes]:
    yield encode_retry(1000)
    for event in missed:
        yield encode_event(event, event_id=event.id)
    yield _batch_event(batch, missed[-1].id)


def _after(header: str | None) -> int | None:
    if header is None or not header.strip():
        return None
    text = header.strip()
    if not text.isdigit() or len(text) > 19:
        raise InvalidRequest(
            f"Last-Event-ID must be an event id of this stream, not {header[:40]!r}",
            code="invalid_last_event_id",
        )
    return int(text)


def _batch_event(batch: Batch, event_id: int) -> bytes:
    data = json.dumps(batch_public(batch).model_dump(mode="json"), separators=(",", ":"), ensure_ascii=True)
    return f"id: {event_id}\nevent: batch\ndata: {data}\n\n".encode()


__all__ = ["router"]
