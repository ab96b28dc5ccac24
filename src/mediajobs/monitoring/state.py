"""Gauges of the deployment's state, read from the database and the broker when Prometheus scrapes
(a prometheus-client custom collector), never kept in a process: queue lengths and their consumers,
open jobs by status and lane, the longest wait per lane, the outbox's and the hooks' backlogs.

A scrape reads at most once per `ttl` seconds (the reads are cheap, but several API processes and
Prometheus replicas may scrape); a part that does not answer is reported as down
(`mediajobs_broker_up`, `mediajobs_database_up`) and its gauges are left out, not zeroed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily, Metric

from mediajobs.domain import OPEN_JOB_STATUSES
from mediajobs.domain.tenancy import LANE_ORDER
from mediajobs.registry import StageQueue
from mediajobs.store import JobStore

log = logging.getLogger(__name__)

LANES = [lane.value for lane in LANE_ORDER]


class QueueSizes(Protocol):
    def queue_sizes(self, queues: Iterable[str]) -> dict[str, int]: ...


class StateCollector:
    """`collect()`: the state gauges, from a read at most `ttl` seconds old."""

    def __init__(
        self,
        store: JobStore,
        broker: QueueSizes,
        queues: Sequence[StageQueue],
        *,
        worker_silence: timedelta,
        ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.broker = broker
        self.queues = tuple(queues)
        self.worker_silence = worker_silence
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._families: list[Metric] = []

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self.ttl:
                self._families = self._read()
                self._read_at = now
            return list(self._families)

    def _read(self) -> list[Metric]:
        families = self._broker_families()
        try:
            families += self._database_families()
            up = 1.0
        except Exception:
            log.warning("metrics: could not read the state from the database", exc_info=True)
            up = 0.0
        families.append(_gauge("mediajobs_database_up", "1 when the database answered the last read.", up))
        return families

    def _broker_families(self) -> list[Metric]:
        length = GaugeMetricFamily(
            "mediajobs_queue_length", "Messages waiting in the broker queue (not those workers hold).",
            labels=["queue"],
        )  # fmt: skip
        try:
            sizes = self.broker.queue_sizes(q.name for q in self.queues)
        except Exception:
            log.warning("metrics: could not read the queue lengths from the broker", exc_info=True)
            return [_gauge("mediajobs_broker_up", "1 when the broker answered the last read.", 0.0)]
        for queue in self.queues:
            length.add_metric([queue.name], float(sizes.get(queue.name, 0)))
        return [length, _gauge("mediajobs_broker_up", "1 when the broker answered the last read.", 1.0)]

    def _database_families(self) -> list[Metric]:
        store = self.store
        workers = store.queues.live_workers(silent_for=self.worker_silence)
        backlog = store.queues.backlog()
        snap = store.stats.snapshot()

        consumers = GaugeMetricFamily(
            "mediajobs_active_workers",
            "Live workers consuming the queue (0: nobody serves it).",
            labels=["queue"],
        )
        waiting = GaugeMetricFamily(
            "mediajobs_queue_waiting", "Stages admitted to the queue and not yet claimed.", labels=["queue"]
        )
        oldest = GaugeMetricFamily(
            "mediajobs_queue_oldest_waiting_seconds",
            "How long the longest-waiting stage of the queue has been due (0: none waits).",
            labels=["queue"],
        )
        for queue in self.queues:
            consumers.add_metric([queue.name], float(sum(1 for w in workers if queue.name in w.queues)))
            found = backlog.get(queue.name)
            waiting.add_metric([queue.name], float(found.waiting if found else 0))
            oldest.add_metric([queue.name], _age(snap.at, found.oldest if found else None))

        jobs = GaugeMetricFamily("mediajobs_jobs", "Open jobs by status and lane.", labels=["status", "lane"])
        for status in sorted(OPEN_JOB_STATUSES):
            for lane in LANES:
                jobs.add_metric([status, lane], float(snap.open_jobs.get((status, lane), 0)))
        lane_oldest = GaugeMetricFamily(
            "mediajobs_lane_oldest_waiting_seconds",
            "How long the work that has waited longest in the lane has waited to start (held by "
            "admission or queued; 0: nothing waits).",
            labels=["lane"],
        )
        for lane in LANES:
            lane_oldest.add_metric([lane], _age(snap.at, snap.oldest_waiting.get(lane)))

        return [
            consumers,
            waiting,
            oldest,
            jobs,
            lane_oldest,
            _gauge(
                "mediajobs_workers",
                "Live worker processes (a heartbeat within a lease period).",
                len(workers),
            ),
            _gauge(
                "mediajobs_outbox_backlog", "Stage messages due and not yet on the broker.", snap.outbox.count
            ),
            _gauge(
                "mediajobs_outbox_oldest_seconds",
                "How long the oldest unpublished stage message has been due (0: none).",
                _age(snap.at, snap.outbox.oldest),
            ),
            _gauge(
                "mediajobs_hook_deliveries_pending",
                "Durable hooks' (webhooks') deliveries due and not yet delivered.",
                snap.deliveries.count,
            ),
            _gauge(
                "mediajobs_hook_deliveries_oldest_pending_seconds",
                "How long the oldest pending delivery has been due (0: none).",
                _age(snap.at, snap.deliveries.oldest),
            ),
        ]


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _age(now: datetime, since: datetime | None) -> float:
    return 0.0 if since is None else max(0.0, (now - since).total_seconds())


__all__ = ["StateCollector"]
