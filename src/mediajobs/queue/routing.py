"""Broker queues: the stage queues of (lane, stage kind) (see domain/routing.py) and maintenance."""

from __future__ import annotations

from collections.abc import Sequence

from mediajobs.domain import Lane, StageKind
from mediajobs.domain.routing import queue_name, queue_router
from mediajobs.domain.tenancy import LANE_ORDER
from mediajobs.errors import InvalidRequest

DEFAULT_LANE = Lane.STANDARD.value
MAINTENANCE_QUEUE = "maintenance"


def all_queues(prefix: str = "", lanes: Sequence[str] = tuple(LANE_ORDER)) -> list[str]:
    """Every queue of the given lanes, fastest lane first, then maintenance."""
    return worker_queues(prefix, lanes=lanes)


def worker_queues(
    prefix: str = "", *, kinds: Sequence[str] | None = None, lanes: Sequence[str] | None = None
) -> list[str]:
    """The queues a worker consumes, in the order it should take work: every lane's queues (fastest
    lane first: Redis is asked with the `priority` queue order, so express work is always taken
    first) of the given stage kinds (default: all), and `maintenance` when no kinds are given or it
    is one of them."""
    known = {k.value for k in StageKind.all()}
    wanted = list(kinds) if kinds else sorted(known)
    unknown = [k for k in wanted if k not in known and k != MAINTENANCE_QUEUE]
    if unknown:
        choices = ", ".join([*sorted(known), MAINTENANCE_QUEUE])
        raise InvalidRequest(
            f"unknown stage kind(s) {', '.join(unknown)}; kinds: {choices}", code="unknown_queue"
        )
    lane_names = {lane.value for lane in LANE_ORDER}
    bad = [lane for lane in (lanes or ()) if lane not in lane_names]
    if bad:
        raise InvalidRequest(
            f"unknown lane(s) {', '.join(bad)}; lanes: {', '.join(lane_names)}", code="unknown_lane"
        )
    chosen_lanes = [Lane(lane).value for lane in (lanes or LANE_ORDER)]
    ordered = sorted(chosen_lanes, key=lambda lane: LANE_ORDER.index(Lane(lane)))
    queues = [
        queue_name(kind, lane=lane, prefix=prefix) for lane in ordered for kind in wanted if kind in known
    ]
    if not kinds or MAINTENANCE_QUEUE in wanted:
        queues.append(f"{prefix}{MAINTENANCE_QUEUE}")
    return queues


__all__ = ["DEFAULT_LANE", "MAINTENANCE_QUEUE", "all_queues", "queue_name", "queue_router", "worker_queues"]
