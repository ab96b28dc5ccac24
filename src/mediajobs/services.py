"""Wiring: builds the store, storage, engines, dispatcher and runner of one process from Settings."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from sqlalchemy import Engine

from mediajobs.domain import PIPELINES, RetryPolicy
from mediajobs.engines import Engines, SpeechToText
from mediajobs.progress import Progress, build_progress
from mediajobs.queue.dispatcher import Dispatcher, Publisher
from mediajobs.queue.routing import queue_name
from mediajobs.runner import Runner
from mediajobs.settings import Settings
from mediajobs.stages import STAGES
from mediajobs.storage import LocalStorage
from mediajobs.store import JobStore, create_db_engine, ensure_migrated

log = logging.getLogger(__name__)


def _default_stt_factory(settings: Settings) -> Callable[[], SpeechToText]:
    from mediajobs.engines.whisper import whisper_factory

    return whisper_factory(settings)


@dataclass(kw_only=True)
class Services:
    settings: Settings
    engine: Engine
    store: JobStore
    storage: LocalStorage
    dispatcher: Dispatcher
    engines: Engines
    progress: Progress = field(default_factory=Progress)  # live progress: publisher and feed
    timeout_errors: tuple[type[BaseException], ...] = ()
    _runner: Runner | None = field(default=None, init=False)

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            self._runner = Runner(
                store=self.store,
                storage=self.storage,
                settings=self.settings,
                engines=self.engines,
                stages=STAGES,
                after_commit=self.publish_soon,
                retry_policy=RetryPolicy(
                    max_retries=self.settings.max_retries,
                    base=self.settings.retry_base_seconds,
                    cap=self.settings.retry_cap_seconds,
                ),
                retry_policies={name: self.settings.retry_policy_for(name) for name in PIPELINES},
                timeout_errors=self.timeout_errors,
                worker_id=f"{self.settings.worker_name}:{uuid.uuid4().hex[:8]}",
            )
        return self._runner

    def publish_soon(self, job_id: uuid.UUID) -> None:
        """Fast path after a commit: publish the job's due messages now. A failure is only logged:
        the commit already happened, and the maintenance relay publishes what is left."""
        try:
            self.dispatcher.publish_job(job_id)
        except Exception:
            log.warning("fast-path publish failed for %s; the relay will publish it", job_id, exc_info=True)

    def broker_check(self) -> None:
        self.dispatcher.publisher.ping()

    def close(self) -> None:
        self.progress.close()
        self.engine.dispose()


def build_services(
    settings: Settings,
    publisher: Publisher,
    *,
    check_schema: bool = True,
    stt_factory: Callable[[], SpeechToText] | None = None,
    timeout_errors: tuple[type[BaseException], ...] = (),
) -> Services:
    engine = create_db_engine(settings.resolved_database_url)
    if check_schema:
        ensure_migrated(engine)
    progress = build_progress(settings)
    store = JobStore(
        engine,
        queue_for=partial(queue_name, prefix=settings.queue_prefix),
        event_sink=progress.publisher.publish if progress.publisher is not None else None,
        idempotency_ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
    )
    return Services(
        settings=settings,
        engine=engine,
        store=store,
        storage=LocalStorage(settings.resolved_storage_dir),
        dispatcher=Dispatcher(store, publisher),
        engines=Engines(speech_to_text_factory=stt_factory or _default_stt_factory(settings)),
        progress=progress,
        timeout_errors=timeout_errors,
    )
