"""Wiring: builds the store, storage, engines, dispatcher and runner of one process from Settings.

The one place that decides which implementation each port gets. API processes build services with
a publisher only (`queue.publisher.build_publisher`); worker processes through `mediajobs.worker`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from mediajobs.capabilities import Capabilities
from mediajobs.domain import AdmissionPolicy, FairShare, PipelineRegistry, RetryPolicy, default_pipelines
from mediajobs.domain.routing import queue_router
from mediajobs.engines import Engines
from mediajobs.hooks import HookChain, Hooks, LoggingHooks
from mediajobs.progress import Progress, build_progress
from mediajobs.queue.dispatcher import Dispatcher, Publisher
from mediajobs.runner import Runner
from mediajobs.settings import Settings
from mediajobs.stages import StageFn, default_stages
from mediajobs.storage import LocalStorage, Storage, Workspace
from mediajobs.store import Clock, JobStore, create_db_engine, ensure_migrated, utcnow

log = logging.getLogger(__name__)


def default_hooks() -> Hooks:
    return HookChain([LoggingHooks()])


def default_admission(settings: Settings) -> AdmissionPolicy:
    """Per-user limits by tier, round-robin across users, batch aging (domain/admission.py)."""
    return FairShare(
        limits=settings.tier_limits(), batch_aging=timedelta(seconds=settings.batch_aging_seconds)
    )


def build_storage(settings: Settings) -> Storage:
    return LocalStorage(settings.resolved_storage_dir)


@dataclass(kw_only=True)
class Services:
    settings: Settings
    store: JobStore
    storage: Storage
    workspace: Workspace
    dispatcher: Dispatcher
    engines: Engines
    stages: Mapping[str, StageFn]
    hooks: Hooks = field(default_factory=Hooks)
    progress: Progress = field(default_factory=Progress)  # live progress: publisher and feed
    timeout_errors: tuple[type[BaseException], ...] = ()
    _runner: Runner | None = field(default=None, init=False)
    _capabilities: Capabilities | None = field(default=None, init=False)

    @property
    def capabilities(self) -> Capabilities:
        """What the engines can do (models, language pairs, voices), for checks at submit."""
        if self._capabilities is None:
            self._capabilities = Capabilities(self.settings)
        return self._capabilities

    @property
    def pipelines(self) -> PipelineRegistry:
        return self.store.pipelines

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            self._runner = Runner(
                store=self.store,
                storage=self.storage,
                workspace=self.workspace,
                settings=self.settings,
                engines=self.engines,
                stages=self.stages,
                hooks=self.hooks,
                retry_policy=RetryPolicy(
                    max_retries=self.settings.max_retries,
                    base=self.settings.retry_base_seconds,
                    cap=self.settings.retry_cap_seconds,
                ),
                retry_policies={name: self.settings.retry_policy_for(name) for name in self.pipelines},
                timeout_errors=self.timeout_errors,
                worker_id=f"{self.settings.worker_name}:{uuid.uuid4().hex[:8]}",
            )
        return self._runner

    def __post_init__(self) -> None:
        self.store.db.on_commit = self.dispatcher.after_commit

    def admit_after(self, job_id: uuid.UUID) -> None:
        """After a write that may have freed slots of the job's owner (cancel, retry, rerun): admit
        what now fits of their waiting stages (publishing follows each commit, `Dispatcher.after_commit`). A
        failure is only logged: the maintenance loop admits and relays what is left."""
        try:
            self.store.admit_after(job_id)
        except Exception:
            log.warning("fast-path admission failed for %s; the relay will publish it", job_id, exc_info=True)

    def admit_soon(self, owner_id: str) -> None:
        """After a submit: admit what fits of the user's waiting stages (the new job's among them)."""
        try:
            self.store.admit_owner(owner_id)
        except Exception:
            log.warning("fast-path admission failed for %s; the tick will admit it", owner_id, exc_info=True)

    def broker_check(self) -> None:
        self.dispatcher.publisher.ping()

    def close(self) -> None:
        self.engines.close()
        self.progress.close()
        self.store.engine.dispose()


def check_database(settings: Settings) -> None:
    """Raise NotMigrated (with what to do) unless the schema is at head."""
    engine = create_db_engine(settings.resolved_database_url)
    try:
        ensure_migrated(engine)
    finally:
        engine.dispose()


def build_services(
    settings: Settings,
    publisher: Publisher,
    *,
    check_schema: bool = True,
    pipelines: PipelineRegistry | None = None,
    stages: Mapping[str, StageFn] | None = None,
    engines: Engines | None = None,
    hooks: Hooks | None = None,
    admission: AdmissionPolicy | None = None,
    timeout_errors: tuple[type[BaseException], ...] = (),
    clock: Clock = utcnow,
) -> Services:
    engine = create_db_engine(settings.resolved_database_url)
    if check_schema:
        ensure_migrated(engine)
    progress = build_progress(settings)
    hooks = hooks if hooks is not None else default_hooks()
    store = JobStore(
        engine,
        clock=clock,
        pipelines=pipelines if pipelines is not None else default_pipelines(noop=settings.noop_pipelines),
        queue_for=queue_router(settings.queue_prefix),
        event_sink=progress.publisher.publish if progress.publisher is not None else None,
        hooks=hooks,
        admission=admission if admission is not None else default_admission(settings),
        idempotency_ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
    )
    if engines is None:
        from mediajobs.engines.defaults import default_engines

        engines = default_engines(settings)
    return Services(
        settings=settings,
        store=store,
        storage=build_storage(settings),
        workspace=Workspace(settings.work_dir),
        dispatcher=Dispatcher(store, publisher),
        engines=engines,
        stages=stages if stages is not None else default_stages(),
        hooks=hooks,
        progress=progress,
        timeout_errors=timeout_errors,
    )
