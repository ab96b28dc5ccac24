"""Wiring: the store, storage, engines, dispatcher and runner of one process, from its registry.

The one place that decides which implementation each port gets, from what the registry holds
(registry.py). API processes build services with a publisher only (`queue.publisher.build_publisher`)
and no engines; worker processes through `mediajobs.worker`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from mediajobs.capabilities import Capabilities
from mediajobs.domain import AdmissionPolicy, FairShare, PipelineRegistry
from mediajobs.domain.routing import queue_router
from mediajobs.domain.tenancy import LANE_ORDER
from mediajobs.drain import Drain
from mediajobs.engines import Engines
from mediajobs.hooks import Hooks
from mediajobs.progress import Progress, build_progress
from mediajobs.queue.dispatcher import Dispatcher, Publisher
from mediajobs.registry import Registry, build_registry
from mediajobs.settings import Settings
from mediajobs.storage import Storage, Workspace
from mediajobs.store import Clock, JobStore, create_db_engine, ensure_migrated, utcnow

if TYPE_CHECKING:
    from mediajobs.runner import Runner


def default_admission(settings: Settings) -> AdmissionPolicy:
    """Per-user limits by tier, round-robin across users, batch aging (domain/admission.py)."""
    return FairShare(
        limits=settings.tier_limits(), batch_aging=timedelta(seconds=settings.batch_aging_seconds)
    )


@dataclass(kw_only=True)
class Services:
    registry: Registry
    store: JobStore
    storage: Storage
    workspace: Workspace
    dispatcher: Dispatcher
    engines: Engines
    hooks: Hooks = field(default_factory=Hooks)
    progress: Progress = field(default_factory=Progress)  # live progress: publisher and feed
    timeout_errors: tuple[type[BaseException], ...] = ()
    consumes: tuple[str, ...] = ()  # a worker's queues: it runs the successors bound for them itself
    # how this process's runner signs its leases and attempts (a worker: `<worker id>/<pid>`)
    runner_id: str | None = None
    drain: Drain | None = None  # a worker's pool process: what it does when the worker stops
    _runner: Runner | None = field(default=None, init=False)
    _capabilities: Capabilities | None = field(default=None, init=False)

    @property
    def settings(self) -> Settings:
        return self.registry.settings

    @property
    def capabilities(self) -> Capabilities:
        """What the engines can do (models, language pairs, voices), for checks at submit."""
        if self._capabilities is None:
            self._capabilities = Capabilities(self.settings)
        return self._capabilities

    @property
    def pipelines(self) -> PipelineRegistry:
        return self.registry.pipelines

    @property
    def runner(self) -> Runner:
        """The runner of stage messages (worker processes only: the API never builds it, so it never
        loads the runner, nor through it any stage code)."""
        if self._runner is None:
            from mediajobs.runner import Runner

            self._runner = Runner(
                store=self.store,
                dispatcher=self.dispatcher,
                storage=self.storage,
                workspace=self.workspace,
                settings=self.settings,
                engines=self.engines,
                hooks=self.hooks,
                retry_policy=self.registry.retry_policy,
                timeout_errors=self.timeout_errors,
                worker_id=self.runner_id or f"{self.settings.worker_name}:{uuid.uuid4().hex[:8]}",
                consumes=frozenset(self.consumes),
                faster_queues=self._faster_queues,
                time_limits=self.registry.time_limits,
                drain=self.drain,
            )
        return self._runner

    def _faster_queues(self, lane: str) -> list[str]:
        """The queues this worker consumes whose lane is faster than `lane`."""
        order = [value.value for value in LANE_ORDER]
        rank = order.index(lane) if lane in order else len(order)
        return [
            q.name
            for q in self.registry.queue_table()
            if q.lane in order and order.index(q.lane) < rank and q.name in self.consumes
        ]

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
    setup: Registry | Settings,
    publisher: Publisher,
    *,
    check_schema: bool = True,
    engines: Engines | None = None,
    hooks: Hooks | None = None,
    admission: AdmissionPolicy | None = None,
    timeout_errors: tuple[type[BaseException], ...] = (),
    clock: Clock = utcnow,
    consumes: Sequence[str] = (),
    runner_id: str | None = None,
    drain: Drain | None = None,
) -> Services:
    """A process's services from its registry (or, for tests and tools, from settings: the registry
    they build). `engines`, `hooks` and `admission` replace what the registry and settings give;
    `consumes`: a worker's queues (its runner runs the successors bound for them itself)."""
    registry = setup if isinstance(setup, Registry) else build_registry(setup)
    settings = registry.settings
    engine = create_db_engine(settings.resolved_database_url)
    if check_schema:
        ensure_migrated(engine)
    progress = build_progress(settings)
    hooks = hooks if hooks is not None else registry.hooks()
    store = JobStore(
        engine,
        clock=clock,
        pipelines=registry.pipelines,
        queue_for=queue_router(settings.queue_prefix),
        event_sink=progress.publisher.publish if progress.publisher is not None else None,
        hooks=hooks,
        admission=admission if admission is not None else default_admission(settings),
        idempotency_ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
        quotas=settings.tier_limits(),
    )
    return Services(
        registry=registry,
        store=store,
        storage=registry.storage(),
        workspace=Workspace(settings.work_dir),
        dispatcher=Dispatcher(store, publisher, hooks=hooks),
        engines=engines if engines is not None else registry.engines(),
        hooks=hooks,
        progress=progress,
        timeout_errors=timeout_errors,
        consumes=tuple(consumes),
        runner_id=runner_id,
        drain=drain,
    )


__all__ = ["Services", "build_services", "check_database", "default_admission"]
