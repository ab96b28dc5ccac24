"""The composition root: every pipeline, queue kind, engine, storage backend and hook of a deployment,
registered on one object that the API, the workers, beat and the CLI build once from Settings.

    registry = build_registry(settings)      the shipped parts, then MEDIAJOBS_PLUGINS
    registry.pipelines                       by name (submit, claim, rerun read them here)
    registry.queue_kinds()                   what workers must consume (`mediajobs up` serves them all)
    registry.engines()                       a process's engines, each built on first use
    registry.storage()                       the storage backend the settings choose
    registry.hooks()                         the hooks, chained

A plug-in is a module with `register(registry)` (docs/plugins.md): it adds its pipelines (their queue
kinds come with them), engines, storage backends or hooks exactly as the shipped ones are added in
`register_shipped`. Nothing else in the package keeps a table of these by name.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from mediajobs.domain import Lane, Pipeline, PipelineRegistry, QueueKind, RetryPolicy
from mediajobs.domain.retry import RetrySchedule
from mediajobs.domain.routing import queue_name
from mediajobs.domain.tenancy import LANE_ORDER
from mediajobs.engines import SPEECH_TO_TEXT, Engines, Slot
from mediajobs.engines import defaults as engines
from mediajobs.engines.http import OUTBOUND_HTTP
from mediajobs.engines.synthesis import synthesis_slot
from mediajobs.engines.translation import TRANSLATION
from mediajobs.errors import ConfigurationError, InvalidRequest
from mediajobs.hooks import HookChain, Hooks, LoggingHooks, MetricsHooks
from mediajobs.hooks.webhooks import Webhooks
from mediajobs.pipelines import MEASUREMENT, SHIPPED
from mediajobs.queue.routing import SYSTEM_QUEUES
from mediajobs.settings import Settings
from mediajobs.storage import Storage
from mediajobs.storage.defaults import local_storage, s3_storage

if TYPE_CHECKING:
    from mediajobs.queue.publisher import CeleryPublisher

log = logging.getLogger(__name__)

T = TypeVar("T")

StorageFactory = Callable[[Settings], Storage]
EngineFactory = Callable[[Settings], Any]


@dataclass(frozen=True, kw_only=True, slots=True)
class StageQueue:
    """One broker queue: what kind of work it carries, in which lane."""

    name: str
    kind: str
    lane: str | None  # None: the maintenance queue


class Registry:
    """What this deployment can do. Built once per process (`build_registry`), then handed down."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pipelines = PipelineRegistry()
        self._kinds: dict[str, QueueKind] = {}
        self._engines: dict[Slot[Any], EngineFactory] = {}
        self._storage: dict[str, StorageFactory] = {}
        self._hooks: list[Hooks] = []
        self.plugins: list[str] = []  # the plug-in modules registered, in order

    # -- registering -------------------------------------------------------------------------------

    def add_queue_kind(self, kind: QueueKind) -> QueueKind:
        """A kind of stage work (its queues, one per lane). Pipelines add theirs on their own."""
        known = self._kinds.get(kind.name)
        if known is not None and known != kind:
            raise ConfigurationError(f"queue kind {kind.name!r} is registered twice, differently")
        if kind.name in SYSTEM_QUEUES:
            raise ConfigurationError(f"{kind.name!r} is a queue of mediajobs' own, not a stage kind")
        self._kinds[kind.name] = kind
        return kind

    def add_pipeline(self, pipeline: Pipeline) -> Pipeline:
        """A pipeline and the queue kinds its stages run on."""
        for kind in pipeline.queue_kinds:
            self.add_queue_kind(kind)
        try:
            return self.pipelines.register(pipeline)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None

    def add_engine(self, slot: Slot[T], factory: Callable[[Settings], T]) -> None:
        """The implementation of an engine port, built from the settings the first time a stage of a
        worker asks for it (`ctx.engines.get(slot)`); a later registration replaces an earlier one."""
        self._engines[slot] = factory

    def add_storage(self, name: str, factory: StorageFactory) -> None:
        """A storage backend, chosen by MEDIAJOBS_STORAGE_BACKEND."""
        self._storage[name] = factory

    def add_hook(self, hook: Hooks) -> None:
        """A hook told of every event of every process (hooks/base.py)."""
        self._hooks.append(hook)

    # -- what the processes use -------------------------------------------------------------------

    def queue_kinds(self) -> tuple[QueueKind, ...]:
        return tuple(self._kinds.values())

    def kind_names(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def engines(self) -> Engines:
        """This process's engines: each slot built on first use, with these settings."""
        engines = Engines()
        for slot, factory in self._engines.items():
            engines.register(slot, _bind(factory, self.settings))
        return engines

    def engine_slots(self) -> tuple[str, ...]:
        return tuple(slot.name for slot in self._engines)

    def storage(self) -> Storage:
        name = self.settings.storage_backend
        factory = self._storage.get(name)
        if factory is None:
            raise ConfigurationError(
                f"unknown storage backend {name!r} (MEDIAJOBS_STORAGE_BACKEND); known: "
                f"{', '.join(sorted(self._storage))}"
            )
        return factory(self.settings)

    def hooks(self) -> Hooks:
        return HookChain(self._hooks)

    def queues(self, *, kinds: Iterable[str] | None = None, lanes: Iterable[str] | None = None) -> list[str]:
        """Broker queues of these kinds (default: all) in these lanes (default: all, fastest first),
        then the system queues (`maintenance`, `hooks`) named or, with no kinds named, all of them.
        Unknown names: InvalidRequest."""
        known = self.kind_names()
        wanted = list(kinds) if kinds is not None else [*known, *SYSTEM_QUEUES]
        unknown = [k for k in wanted if k not in known and k not in SYSTEM_QUEUES]
        if unknown:
            names = ", ".join([*known, *SYSTEM_QUEUES])
            raise InvalidRequest(
                f"unknown queue kind(s) {', '.join(unknown)}; kinds: {names}", code="unknown_queue"
            )
        lane_names = [lane.value for lane in LANE_ORDER]
        chosen = list(lanes) if lanes is not None else lane_names
        bad = [lane for lane in chosen if lane not in lane_names]
        if bad:
            raise InvalidRequest(
                f"unknown lane(s) {', '.join(bad)}; lanes: {', '.join(lane_names)}", code="unknown_lane"
            )
        ordered = sorted(set(chosen), key=lambda lane: LANE_ORDER.index(Lane(lane)))
        prefix = self.settings.queue_prefix
        queues = [
            queue_name(kind, lane=lane, prefix=prefix) for lane in ordered for kind in wanted if kind in known
        ]
        queues += [f"{prefix}{name}" for name in SYSTEM_QUEUES if name in wanted]
        return queues

    def publisher(self) -> CeleryPublisher:
        """A publisher of stage messages to this deployment's broker, for a process that runs no
        stages (the API, tools): a Celery app with the queues and no tasks of its own."""
        from mediajobs.queue.publisher import build_publisher

        return build_publisher(self.settings, self.queues(), self.time_limits)

    def time_limits(self, pipeline: str, stage: str, media_seconds: float | None) -> tuple[int, int]:
        """(soft, hard) seconds a stage run may take: the settings' override for the stage, else what
        its pipeline declares, else the deployment's defaults (all raised for long media)."""
        found = self.pipelines.get(pipeline)
        spec = found.spec_named(stage) if found is not None else None
        declared = spec.time_limit if spec is not None else None
        return self.settings.time_limits_for(stage, media_seconds, declared)

    def retry_policy(self, pipeline: str) -> RetryPolicy:
        """How often and how soon a failed stage of `pipeline` runs again (settings over the pipeline's
        own policy over the deployment's defaults)."""
        found = self.pipelines.get(pipeline)
        return self.settings.retry_policy_for(pipeline, found.retry_policy if found is not None else None)

    def queue_table(self) -> list[StageQueue]:
        """Every broker queue of the deployment with the kind and lane it carries, fastest lane first,
        then the system queues (`maintenance`, `hooks`: no lane)."""
        prefix = self.settings.queue_prefix
        table = [
            StageQueue(name=queue_name(kind, lane=lane.value, prefix=prefix), kind=kind, lane=lane.value)
            for lane in LANE_ORDER
            for kind in self.kind_names()
        ]
        table += [StageQueue(name=f"{prefix}{name}", kind=name, lane=None) for name in SYSTEM_QUEUES]
        return table

    def describe(self) -> str:
        return (
            f"{len(self.pipelines)} pipelines ({', '.join(self.pipelines)}), queue kinds "
            f"{', '.join(self._kinds)}, engines {', '.join(self.engine_slots()) or 'none'}"
            + (f", plug-ins {', '.join(self.plugins)}" if self.plugins else "")
        )


def _bind(factory: EngineFactory, settings: Settings) -> Callable[[], Any]:
    return lambda: factory(settings)


def register_shipped(registry: Registry) -> None:
    """What every deployment has: the shipped pipelines, engines, storage backends and hooks (logs,
    webhooks)."""
    for pipeline in SHIPPED:
        registry.add_pipeline(pipeline)
    if registry.settings.noop_pipelines:
        for pipeline in MEASUREMENT:
            registry.add_pipeline(pipeline)
    registry.add_engine(SPEECH_TO_TEXT, engines.speech_to_text)
    registry.add_engine(TRANSLATION, engines.apertium)
    registry.add_engine(synthesis_slot("espeak-ng"), engines.espeak_ng)
    registry.add_engine(synthesis_slot("flite"), engines.flite)
    registry.add_engine(OUTBOUND_HTTP, engines.outbound_http)
    registry.add_storage("local", local_storage)
    registry.add_storage("s3", s3_storage)
    registry.add_hook(LoggingHooks())
    registry.add_hook(MetricsHooks())
    schedule = RetrySchedule(delays=tuple(registry.settings.webhook_retry_schedule))
    registry.add_hook(Webhooks(schedule))


def load_plugin(registry: Registry, module_name: str) -> None:
    """Import `module_name` and call its `register(registry)`."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import plug-in {module_name!r} (MEDIAJOBS_PLUGINS): {exc}") from exc
    register = getattr(module, "register", None)
    if not callable(register):
        raise ConfigurationError(f"plug-in {module_name!r} has no register(registry) function")
    register(registry)
    registry.plugins.append(module_name)


def build_registry(settings: Settings) -> Registry:
    """The shipped parts, then each plug-in of MEDIAJOBS_PLUGINS in order."""
    registry = Registry(settings)
    register_shipped(registry)
    for name in settings.plugin_modules:
        load_plugin(registry, name)
    return registry


__all__ = ["Registry", "StageQueue", "build_registry", "load_plugin", "register_shipped"]
