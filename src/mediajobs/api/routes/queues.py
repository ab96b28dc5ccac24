"""The broker queues: who consumes each, what waits in it (admins)."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from mediajobs.api.deps import CurrentUser, ServicesDep
from mediajobs.api.schemas import ConsumerPublic, ErrorBody, QueueList, QueuePublic
from mediajobs.errors import Forbidden

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/queues", tags=["queues"])


@router.get(
    "",
    response_model=QueueList,
    responses={403: {"model": ErrorBody, "description": "Only an admin may list the queues"}},
)
def list_queues(services: ServicesDep, owner: CurrentUser) -> QueueList:
    """Every queue of the deployment with its live consumers, its length and its oldest waiting age."""
    if not owner.user.is_admin:
        raise Forbidden("only an admin may list the queues", code="admin_only")
    table = services.registry.queue_table()
    store = services.store
    workers = store.queues.live_workers(silent_for=services.settings.worker_silence)
    backlog = store.queues.backlog()
    try:
        lengths: dict[str, int] | None = services.dispatcher.publisher.queue_sizes(q.name for q in table)
    except Exception:  # the broker is away: the rest is still worth showing
        log.warning("could not read the queue lengths from the broker", exc_info=True)
        lengths = None
    now = store.db.clock()
    queues = []
    for queue in table:
        waiting = backlog.get(queue.name)
        oldest = waiting.oldest if waiting is not None else None
        queues.append(
            QueuePublic(
                name=queue.name,
                kind=queue.kind,
                lane=queue.lane,
                consumers=[
                    ConsumerPublic(
                        worker=w.id,
                        hostname=w.hostname,
                        pid=w.pid,
                        concurrency=w.concurrency,
                        last_seen=w.last_seen,
                    )
                    for w in workers
                    if queue.name in w.queues
                ],
                length=None if lengths is None else lengths.get(queue.name, 0),
                waiting=waiting.waiting if waiting is not None else 0,
                oldest_waiting_seconds=None if oldest is None else max(0.0, (now - oldest).total_seconds()),
            )
        )
    return QueueList(queues=queues)
