"""Periodic upkeep: reap expired leases and dead workers, admit waiting stages, publish due outbox
messages (retries, relays).

Runs as a loop in the main process of one worker (worker.py, `MaintenanceLoop`: the maintenance
leader), once when any worker starts, and as the `mediajobs.maintain` task when something sends it.
Running in several places at once is safe: every step is compare-and-set in the store.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from mediajobs.hooks import LostLease
from mediajobs.queue.dispatcher import Dispatcher
from mediajobs.settings import Settings
from mediajobs.store import JobStore

log = logging.getLogger(__name__)


RELAY_AFTER = timedelta(seconds=1)
"""The relay publishes a message once it has been due this long: a message due now is the committing
process's to publish (`Dispatcher.publish_now`, milliseconds later); one still unsent a second on
(that process died, or the broker refused) is the relay's. Without the wait both would often publish
it (harmless, the claim refuses the second, but a wasted delivery)."""


class Maintenance:
    def __init__(self, store: JobStore, dispatcher: Dispatcher, settings: Settings) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.settings = settings
        self.hooks = dispatcher.hooks

    @property
    def max_attempts(self) -> int:
        # a stage whose worker keeps dying (out of memory, a crashing codec) must not loop forever
        return self.settings.max_retries + 1 + 3

    def run_once(self) -> dict[str, int]:
        """One round; what its commits leave to do (the messages of re-queued and admitted stages,
        the users whose slots freed) is settled right after it, not left to the next relay."""
        return self.dispatcher.settled(self._round)

    def _round(self) -> dict[str, int]:
        reaped = self.store.leases.reap_expired_leases(max_attempts=self.max_attempts)
        for item in reaped:
            log.warning(
                "lease expired on %s/%s; %s",
                item.job_id,
                item.stage,
                "re-queued" if item.requeued else "job ended",
            )
            self.hooks.lease_lost(
                LostLease(
                    job_id=item.job_id,
                    stage=item.stage,
                    worker=None,
                    noticed_by="reaper",
                    requeued=item.requeued,
                )
            )
        # A worker is dead once it has missed a lease period of heartbeats (it beats several times
        # per lease): the messages it held go out again now, not after the broker's visibility timeout.
        resent = self.store.leases.reap_dead_workers(silent_for=self.settings.worker_silence)
        if resent:
            log.warning("re-sent %d stage messages held by workers that died", resent)
        # A message the broker lost (Redis restarted without it, a worker killed the instant it took
        # one): the queue holds fewer messages than the stages waiting on it. Sent again now.
        lost = self.store.strays.resend_lost(
            self.dispatcher.publisher.queue_sizes, older_than=timedelta(seconds=self.settings.lease_seconds)
        )
        if lost:
            log.warning("re-sent %d stage messages the broker no longer held", lost)
        redispatched = self.store.leases.redispatch_stale(
            older_than=timedelta(seconds=self.settings.redispatch_after_seconds)
        )
        if redispatched:
            log.warning("re-published %d stage messages that nobody picked up", redispatched)
        admitted = self.store.admission.admit_waiting()
        aged = self.store.admission.reroute_aged()
        if aged:
            log.info("routed %d batch-lane stages that waited too long to the standard lane", aged)
        sent = self.dispatcher.dispatch_due(older_than=RELAY_AFTER)
        # Hook deliveries a dead worker had taken (maybe mid-send) go out again now, with the rest owed.
        released = self.store.deliveries.release_dead(silent_for=self.settings.worker_silence)
        if released:
            log.warning("re-sending %d hook deliveries held by workers that died", released)
        owed = self.store.deliveries.unsent(
            older_than=RELAY_AFTER, stale_after=timedelta(seconds=self.settings.redispatch_after_seconds)
        )
        deliveries = self.dispatcher.publish_deliveries(owed) if owed else 0
        return {
            "reaped": len(reaped),
            "resent": resent,
            "lost": lost,
            "redispatched": redispatched,
            "admitted": admitted,
            "aged": aged,
            "published": sent,
            "deliveries": deliveries,
        }

    def run_forever(self, stop: threading.Event, interval: float | None = None) -> None:
        every = interval if interval is not None else self.settings.maintenance_interval
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # database or broker away: try again next round
                log.warning("maintenance round failed", exc_info=True)
            stop.wait(every)

    def start_thread(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(
            target=self.run_forever, args=(stop,), name="mediajobs-maintenance", daemon=True
        )
        thread.start()
        return thread
