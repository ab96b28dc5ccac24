"""The dashboard's forms: every POST carries the session's CSRF token (session.Poster) and calls the
application layer, then redirects back with a notice (Post/Redirect/Get: a reload does not repeat it)."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from mediajobs import service
from mediajobs.errors import ClientError, NotFound

from .session import PATH, Poster
from .views import FILTER_FIELDS, _services, job_filter

router = APIRouter(prefix=PATH, include_in_schema=False)


def _back(to: str, notice: str, **params: str) -> Response:
    query = urlencode({**{k: v for k, v in params.items() if v}, "notice": notice})
    return RedirectResponse(f"{PATH}{to}?{query}", status_code=303)


def _job_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"no job with id {raw[:100]!r}") from None


async def _next(request: Request, default: str) -> str:
    """Where the form asked to go back to (a dashboard path only)."""
    form = await request.form()
    target = form.get("next")
    if (
        isinstance(target, str)
        and target.startswith(f"{PATH}/")
        and "//" not in target
        and "\\" not in target
    ):
        return target[len(PATH) :]
    return default


@router.post("/jobs/{job_id}/retry")
async def retry_job(request: Request, job_id: str, who: Poster) -> Response:
    services = _services(request)
    to = await _next(request, f"/jobs/{job_id}")
    try:
        job = await run_in_threadpool(service.retry, services, who.caller, _job_id(job_id))
    except ClientError as exc:
        return _back(to, f"Not retried: {exc.message}")
    return _back(to, f"Job {str(job.id)[:8]} retried.")


@router.post("/jobs/{job_id}/cancel")
async def cancel_job(request: Request, job_id: str, who: Poster) -> Response:
    services = _services(request)
    to = await _next(request, f"/jobs/{job_id}")
    try:
        job = await run_in_threadpool(service.cancel, services, who.caller, _job_id(job_id))
    except ClientError as exc:
        return _back(to, f"Not cancelled: {exc.message}")
    return _back(to, f"Job {str(job.id)[:8]} cancel requested.")


@router.post("/failed/retry-all")
async def retry_all(request: Request, who: Poster) -> Response:
    """Retry every failed job the confirmed search matches."""
    services = _services(request)
    form = await request.form()
    params = {f: str(form.get(f) or "").strip()[:200] for f in FILTER_FIELDS}
    params["status"] = "failed"
    done = await run_in_threadpool(service.retry_all, services, who.caller, job_filter(params, who, services))
    notice = f"Retried {done.retried} job(s)." + (
        f" {done.refused} had changed and were left alone." if done.refused else ""
    )
    return _back("/failed", notice, **{k: v for k, v in params.items() if k != "status"})


@router.post("/lanes/{lane}/pause")
async def pause_lane(request: Request, lane: str, who: Poster) -> Response:
    try:
        changed = await run_in_threadpool(service.pause_lane, _services(request), who.caller, lane)
    except ClientError as exc:
        return _back("/queues", f"Not paused: {exc.message}")
    return _back("/queues", f"Lane {lane} paused." if changed else f"Lane {lane} was already paused.")


@router.post("/lanes/{lane}/resume")
async def resume_lane(request: Request, lane: str, who: Poster) -> Response:
    try:
        changed = await run_in_threadpool(service.resume_lane, _services(request), who.caller, lane)
    except ClientError as exc:
        return _back("/queues", f"Not resumed: {exc.message}")
    return _back("/queues", f"Lane {lane} resumed." if changed else f"Lane {lane} was not paused.")


@router.post("/jobs/{job_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(request: Request, job_id: str, delivery_id: int, who: Poster) -> Response:
    services = _services(request)
    try:
        await run_in_threadpool(service.redeliver, services, who.caller, delivery_id, job_id=_job_id(job_id))
    except ClientError as exc:
        return _back(f"/jobs/{job_id}", f"Not redelivered: {exc.message}")
    return _back(f"/jobs/{job_id}", "Webhook sent again.")


__all__ = ["router"]
