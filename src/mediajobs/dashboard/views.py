"""The dashboard's pages. Each reads the database through the store (reads in the thread pool: the
routes are plain functions) and renders a template; a user sees only their own jobs, an admin all,
and the operators' pages (queues, workers, users) are for admins."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from mediajobs.api.routes.events import job_event_stream
from mediajobs.api.routes.queues import list_queues
from mediajobs.api.routes.workers import list_workers
from mediajobs.domain import JobStatus, Lane
from mediajobs.errors import NotFound
from mediajobs.service import count_retryable
from mediajobs.storage import Storage
from mediajobs.store.browse import JobFilter
from mediajobs.wiring import Services

from .render import page
from .session import PATH, Looker, Viewer, while_session

router = APIRouter(prefix=PATH, include_in_schema=False)

PAGE_SIZE = 25
WINDOWS = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
FILTER_FIELDS = ("status", "pipeline", "user", "lane", "since", "q")
PLAYABLE = ("audio/", "video/")
SUBTITLES = (".srt", ".vtt")
CHUNK = 256 * 1024


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def filter_params(request: Request) -> dict[str, str]:
    """The filters in the query string (or a form), as given: what the pages echo back."""
    return {f: request.query_params.get(f, "").strip()[:200] for f in FILTER_FIELDS}


def job_filter(params: dict[str, str], who: Viewer, services: Services) -> JobFilter:
    window = WINDOWS.get(params.get("since", ""))
    return JobFilter(
        owner_id=who.scope,
        status=params.get("status") or None,
        pipeline=params.get("pipeline") or None,
        user=(params.get("user") or None) if who.admin else None,
        lane=params.get("lane") or None,
        since=None if window is None else services.store.db.clock() - window,
        search=params.get("q") or None,
    )


def _choices(services: Services) -> dict[str, Any]:
    return {
        "statuses": [s.value for s in JobStatus],
        "pipelines": sorted(services.pipelines),
        "lanes": [lane.value for lane in Lane],
        "windows": list(WINDOWS),
    }


@router.get("", include_in_schema=False)
def root() -> Response:
    return RedirectResponse(f"{PATH}/", status_code=307)


@router.get("/")
def overview(request: Request, who: Looker) -> Response:
    services = _services(request)
    store = services.store
    counts = store.browse.counts(who.scope)
    lanes = [lane.value for lane in Lane]
    statuses = [s.value for s in JobStatus]
    context: dict[str, Any] = {
        "viewer": who,
        "lanes": lanes,
        "statuses": statuses,
        "counts": counts,
        "hour": store.browse.throughput(who.scope, timedelta(hours=1)),
        "day": store.browse.throughput(who.scope, timedelta(days=1)),
        "paused": store.pauses.paused(),
    }
    if who.admin:
        snapshot = store.stats.snapshot()
        context["oldest"] = {
            lane: (snapshot.at - first).total_seconds() for lane, first in snapshot.oldest_waiting.items()
        }
        context["queues"] = list_queues(services, who.caller).queues
    return page(request, "overview.html", **context)


@router.get("/jobs")
def jobs(request: Request, who: Looker) -> Response:
    services = _services(request)
    params = filter_params(request)
    number = max(1, int(request.query_params["page"])) if _digits(request, "page") else 1
    found = services.store.browse.find(
        job_filter(params, who, services), offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    return page(
        request,
        "jobs.html",
        viewer=who,
        found=found,
        params=params,
        page_number=number,
        pages=max(1, -(-found.total // PAGE_SIZE)),
        **_choices(services),
    )


@router.get("/failed")
def failed(request: Request, who: Looker) -> Response:
    services = _services(request)
    params = filter_params(request)
    params["status"] = "failed"
    number = int(request.query_params.get("page", "1")) if _digits(request, "page") else 1
    found = services.store.browse.find(
        job_filter(params, who, services), offset=(max(1, number) - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    return page(
        request,
        "failed.html",
        viewer=who,
        found=found,
        params=params,
        page_number=max(1, number),
        pages=max(1, -(-found.total // PAGE_SIZE)),
        **_choices(services),
    )


@router.get("/failed/retry-all")
def confirm_retry_all(request: Request, who: Looker) -> Response:
    """How many jobs "retry all matching" will run again, and a form to confirm."""
    services = _services(request)
    params = filter_params(request)
    params["status"] = "failed"
    count = count_retryable(services, who.caller, job_filter(params, who, services))
    return page(request, "confirm_retry_all.html", viewer=who, params=params, count=count)


def _job_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"no job with id {raw[:100]!r}") from None


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str, who: Looker) -> Response:
    services = _services(request)
    store = services.store
    try:
        parsed = _job_id(job_id)
        latest = store.events.latest_event(parsed)  # first: the page shows the job as of this event or later
        job = store.jobs.get_job(parsed, who.scope)
    except NotFound:
        return page(request, "missing.html", viewer=who, what=f"job {job_id[:40]}", status=404)
    artifacts = store.artifacts.list_artifacts(job.id)
    return page(
        request,
        "job.html",
        viewer=who,
        job=job,
        after=0 if latest is None else latest.seq,
        attempts=store.jobs.list_attempts(job.id),
        waiting=store.queues.waiting(job, silent_for=services.settings.worker_silence),
        artifacts=artifacts,
        players=[a for a in artifacts if a.content_type.startswith(PLAYABLE)],
        subtitles=[a for a in artifacts if a.name.endswith(SUBTITLES)],
        deliveries=store.deliveries.of_job(job.id),
        owner=store.users.get_user(job.owner_id) if who.admin else who.session.user,
    )


@router.get("/jobs/{job_id}/files/{name}")
def job_file(request: Request, job_id: str, name: str, who: Looker) -> Response:
    """A job's artifact, inline (the job page's players and subtitles)."""
    services = _services(request)
    job = services.store.jobs.get_job(_job_id(job_id), who.scope)
    artifact = services.store.artifacts.get_artifact(job.id, name)
    # Always through this server, never a redirect to a presigned URL: the page's
    # Content-Security-Policy admits media and fetches from its own origin only.
    return StreamingResponse(
        _chunks(services.storage, artifact.key),
        media_type=artifact.content_type,
        headers={"Content-Length": str(artifact.size), "X-Content-Type-Options": "nosniff"},
    )


def _chunks(storage: Storage, key: str) -> Iterator[bytes]:
    with storage.open(key) as stream:
        while chunk := stream.read(CHUNK):
            yield chunk


@router.get("/jobs/{job_id}/events")
async def job_events(request: Request, job_id: str, who: Looker) -> Response:
    """The job's progress events (SSE), for the job page's live progress bars."""
    resumed = request.headers.get("last-event-id", "").strip()  # EventSource's reconnect wins
    after = resumed if resumed else request.query_params.get("after", "0")
    seq = int(after) if after.isdigit() and len(after) < 11 else 0
    return await job_event_stream(
        request,
        _services(request),
        who.scope,
        _job_id(job_id),
        seq,
        lambda events: while_session(events, request, who.token),
    )


@router.get("/queues")
def queues(request: Request, who: Looker) -> Response:
    if not who.admin:
        return page(request, "missing.html", viewer=who, what="the queues (admins only)", status=403)
    services = _services(request)
    return page(
        request,
        "queues.html",
        viewer=who,
        queues=list_queues(services, who.caller).queues,
        lanes=[lane.value for lane in Lane],
        paused=services.store.pauses.paused(),
    )


@router.get("/workers")
def workers(request: Request, who: Looker) -> Response:
    if not who.admin:
        return page(request, "missing.html", viewer=who, what="the workers (admins only)", status=403)
    listed = list_workers(_services(request), who.caller)
    return page(request, "workers.html", viewer=who, workers=listed.workers, running=listed.running)


@router.get("/batches")
def batches(request: Request, who: Looker) -> Response:
    listed = _services(request).store.batches.list_batches(owner_id=who.scope, limit=100)
    return page(request, "batches.html", viewer=who, batches=listed)


@router.get("/users")
def users(request: Request, who: Looker) -> Response:
    if not who.admin:
        return page(request, "missing.html", viewer=who, what="the users (admins only)", status=403)
    store = _services(request).store
    everyone = store.users.list_users()
    keys: dict[str, list[Any]] = {}
    for key in store.users.list_keys():
        keys.setdefault(key.user_id, []).append(key)
    return page(
        request,
        "users.html",
        viewer=who,
        users=everyone,
        usage=store.browse.usage([u.id for u in everyone]),
        keys=keys,
    )


def _digits(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "")
    return value.isdigit() and len(value) < 7


__all__ = ["router"]
