"""Batches: submit many items under one handle, cancel them, retry their failures, fetch their files.

Every item is checked (against its pipeline, the engines and the caller, as a single submit is)
before anything is written; a bad item refuses the whole batch, naming its index. Then the batch and
all its jobs are written in one transaction (store/batches.py) and admitted like any job: in the
`batch` lane, under the user's concurrency limit and fair share, counted against quotas item by item.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mediajobs.domain import MAX_BATCH_ITEMS, Batch, Lane, Upload
from mediajobs.domain.tenancy import check_quota
from mediajobs.errors import Conflict, InvalidRequest, MediaJobsError, NotFound, TooManyRequests
from mediajobs.store import BatchItem, Caller
from mediajobs.wiring import Services

from .actions import quota_of
from .submit import SubmitRequest, announce, check_callback, check_request, check_text_fits, discard_upload
from .texts import store_text


@dataclass(frozen=True, kw_only=True, slots=True)
class BatchItemRequest:
    """One item as a client sent it: a source or a text, and what overrides the batch's defaults."""

    source: str | None = None
    text: str | None = None
    pipeline: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    name: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class BatchRequest:
    items: Sequence[BatchItemRequest]
    pipeline: str = "transcribe"  # the items' default
    options: dict[str, Any] = field(default_factory=dict)  # the items' defaults
    name: str | None = None
    callback_url: str | None = None  # where to POST the batch's JSON when it ends


def request_fingerprint(request: BatchRequest) -> str:
    """To tell an idempotent replay from a reused Idempotency-Key."""
    body = {
        "pipeline": request.pipeline,
        "options": request.options,
        "name": request.name,
        **({"callback_url": request.callback_url} if request.callback_url is not None else {}),
        "items": [
            {"source": i.source, "text": i.text, "pipeline": i.pipeline, "options": i.options, "name": i.name}
            for i in request.items
        ],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def submit_batch(
    services: Services, caller: Caller, request: BatchRequest, *, idempotency_key: str | None = None
) -> tuple[Batch, bool]:
    """Check every item, then write the batch and its jobs at once; (batch, created)."""
    count = len(request.items)
    if not 1 <= count <= MAX_BATCH_ITEMS:
        raise InvalidRequest(f"a batch holds 1 to {MAX_BATCH_ITEMS} items, not {count}", code="invalid_batch")
    _check_quota(services, caller, count)
    callback_url = check_callback(services, caller.user.id, request.callback_url)
    if idempotency_key is not None:
        idempotency_key = idempotency_key.strip()
        if not idempotency_key or len(idempotency_key) > 200:
            raise InvalidRequest(
                "Idempotency-Key must be 1 to 200 characters", code="invalid_idempotency_key"
            )
    placeholders = {
        i: _text_upload(caller, item) for i, item in enumerate(request.items) if item.text is not None
    }
    checked = [_check_item(services, caller, request, i, placeholders.get(i)) for i in range(count)]
    characters = sum(
        len(request.items[i].text or "") for i in placeholders if checked[i].pipeline.text_meter is not None
    )
    if characters:  # the items' texts together must fit what is left of the characters quota
        limits = services.settings.tier_limits()[caller.user.tier]
        check_text_fits(limits, caller.usage, characters, services.store.db.clock())
    texts: dict[int, Upload] = {}
    try:
        for i in placeholders:
            texts[i] = store_text(services, caller.user.id, request.items[i].text or "")
    except BaseException:  # e.g. past the storage quota half way: the texts stored so far go too
        for upload in texts.values():
            discard_upload(services, upload)
        raise
    items = [
        BatchItem(
            index=i,
            pipeline=c.pipeline,
            source=f"upload://{texts[i].id}" if i in texts else c.source,
            options=c.options,
            name=_item_name(request.items[i], c.source_name, i),
            source_name=c.source_name,
            upload_id=texts[i].id if i in texts else c.upload_id,
        )
        for i, c in enumerate(checked)
    ]
    try:
        batch, created = services.dispatcher.settled(
            services.store.batches.create_batch,
            owner_id=caller.user.id,
            lane=Lane.BATCH.value,  # bulk work, whatever the user's tier: their single jobs go first
            items=items,
            name=request.name,
            idempotency_key=idempotency_key,
            request_hash=request_fingerprint(request),
            quota=services.settings.tier_limits()[caller.user.tier],
            callback_url=callback_url,
        )
    except BaseException:
        for upload in texts.values():
            discard_upload(services, upload)
        raise
    if not created:
        for upload in texts.values():
            discard_upload(services, upload)  # a replay: the first batch has its own texts
    return batch, created


def announce_items(services: Services, caller: Caller, batch: Batch) -> None:
    """Tell the hooks each item was submitted (after the commit)."""
    for job_id in services.store.batches.item_ids(batch.id):
        announce(services, caller, services.store.jobs.get_job(job_id))


def cancel_batch(services: Services, caller: Caller, batch_id: uuid.UUID) -> Batch:
    """Cancel every item that has not ended (running stages stop at their next heartbeat); the batch
    ends, `cancelled`, when its last item does."""
    for job_id in services.store.batches.request_cancel(batch_id, caller.scope):
        try:
            services.dispatcher.settled(services.store.jobs.request_cancel, job_id, None)
        except Conflict:  # it ended meanwhile
            continue
    return services.store.batches.get_batch(batch_id, caller.scope)


def retry_batch(services: Services, caller: Caller, batch_id: uuid.UUID) -> Batch:
    """Run the failed and cancelled items again, each from its first unfinished stage."""
    quota = quota_of(services, caller)
    for job_id in services.store.batches.reopen(batch_id, caller.scope):
        try:
            services.dispatcher.settled(services.store.jobs.retry_job, job_id, None, quota=quota)
        except Conflict:  # it is running again already
            continue
        except TooManyRequests:  # past the quota: the items not retried stay as they were
            services.store.batches.close_if_ended(batch_id)
            raise
    services.store.batches.close_if_ended(batch_id)  # nothing was left to run: it ends again
    return services.store.batches.get_batch(batch_id, caller.scope)


def batch_archive(
    services: Services, caller: Caller, batch_id: uuid.UUID, suffixes: Sequence[str] | None
) -> Iterator[bytes]:
    """The items' files as one zip, streamed as it is built (`<item>/<file name>`); `suffixes` picks
    which files (`srt`, `json`, ...; None: all)."""
    from .archive import zip_stream

    store = services.store
    store.batches.get_batch(batch_id, caller.scope)  # another user's: 404
    wanted = {s.lower().lstrip(".") for s in suffixes} if suffixes else None
    names: set[str] = set()
    entries = []
    for row in store.batches.item_page(batch_id, limit=10_000):
        folder = _unique(row.item_name or f"item-{row.batch_index:04d}", names)
        for artifact in store.artifacts.list_artifacts(row.id):
            if wanted is None or artifact.name.rsplit(".", 1)[-1].lower() in wanted:
                entries.append((f"{folder}/{artifact.name}", artifact.key))
    return zip_stream(services.storage, entries)


def _check_item(
    services: Services, caller: Caller, request: BatchRequest, index: int, upload: Upload | None
) -> Any:
    item = request.items[index]
    try:
        if (item.source is None) == (item.text is None):
            raise InvalidRequest("give either `source` or `text`", code="validation_error")
        if item.text is not None and not item.text.strip():
            raise InvalidRequest("`text` is empty", code="empty_text")
        single = SubmitRequest(
            pipeline=item.pipeline or request.pipeline,
            source=f"upload://{upload.id}" if upload is not None else item.source or "",
            options={**request.options, **item.options},
            upload=upload,
        )
        return check_request(services, caller, single)
    except (InvalidRequest, NotFound) as exc:
        code = exc.code if isinstance(exc, InvalidRequest) else "source_not_found"
        raise InvalidRequest(f"items[{index}]: {exc.message}", code=code) from None
    except MediaJobsError as exc:
        raise InvalidRequest(f"items[{index}]: {exc.message}", code=exc.code) from None


def _text_upload(caller: Caller, item: BatchItemRequest) -> Upload:
    """A stand-in for the upload an item's text becomes, so it is checked before anything is stored."""
    from datetime import UTC, datetime

    data = (item.text or "").encode("utf-8")
    return Upload(
        id=uuid.uuid4(),
        owner_id=caller.user.id,
        filename="text.txt",
        content_type="text/plain; charset=utf-8",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        key="",
        created_at=datetime.now(UTC),
    )


def _check_quota(services: Services, caller: Caller, count: int) -> None:
    """Early refusal on the usage the key check read (the write checks it again, exactly)."""
    limits = services.settings.tier_limits()[caller.user.tier]
    verdict = check_quota(limits, caller.usage, services.store.db.clock(), adding=count)
    if not verdict.allowed:
        raise TooManyRequests(verdict.message, code="quota_exceeded", retry_after=verdict.retry_after)


def _item_name(item: BatchItemRequest, source_name: str | None, index: int) -> str:
    name = item.name or (source_name.rsplit(".", 1)[0] if source_name and source_name != "text.txt" else None)
    safe = "".join(ch if ch.isalnum() or ch in "._- " else "_" for ch in (name or f"item-{index:04d}"))
    return safe.strip(" .")[:200] or f"item-{index:04d}"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate


__all__ = [
    "BatchItemRequest",
    "BatchRequest",
    "announce_items",
    "batch_archive",
    "cancel_batch",
    "request_fingerprint",
    "retry_batch",
    "submit_batch",
]
