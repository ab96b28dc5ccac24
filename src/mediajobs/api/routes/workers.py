"""The workers: who is alive, what each consumes, and which stages run where (admins). With
GET /api/v1/queues, what `mediajobs inspect` shows."""

from __future__ import annotations

from fastapi import APIRouter

from mediajobs.api.deps import CurrentUser, ServicesDep
from mediajobs.api.schemas import ErrorBody, RunningStagePublic, WorkerList, WorkerPublic
from mediajobs.domain.routing import queue_name
from mediajobs.errors import Forbidden

router = APIRouter(prefix="/api/v1/workers", tags=["workers"])


@router.get(
    "",
    response_model=WorkerList,
    responses={403: {"model": ErrorBody, "description": "Only an admin may list the workers"}},
)
def list_workers(services: ServicesDep, owner: CurrentUser) -> WorkerList:
    """Live workers with their queues and last heartbeat, and every stage running now with its worker."""
    if not owner.user.is_admin:
        raise Forbidden("only an admin may list the workers", code="admin_only")
    store = services.store
    workers = store.queues.live_workers(silent_for=services.settings.worker_silence)
    running = store.queues.running()
    now = store.db.clock()
    live = {w.id for w in workers}
    prefix = services.settings.queue_prefix
    return WorkerList(
        workers=[
            WorkerPublic(
                id=w.id,
                hostname=w.hostname,
                pid=w.pid,
                queues=list(w.queues),
                concurrency=w.concurrency,
                started_at=w.started_at,
                last_seen=w.last_seen,
                running=sum(1 for r in running if r.worker == w.id),
            )
            for w in workers
        ],
        running=[
            RunningStagePublic(
                job_id=r.job_id,
                pipeline=r.pipeline,
                stage=r.stage,
                queue=queue_name(r.kind, lane=r.lane, prefix=prefix),
                lane=r.lane,
                attempt=r.attempt,
                worker=r.worker,
                worker_live=r.worker in live,
                runner=r.runner,
                started_at=r.started_at,
                running_seconds=None
                if r.started_at is None
                else max(0.0, (now - r.started_at).total_seconds()),
                lease_expires_at=r.lease_expires_at,
                progress=r.progress,
            )
            for r in running
        ],
    )
