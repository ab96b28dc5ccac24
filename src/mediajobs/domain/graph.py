"""Pipelines as stage graphs: data, checked once when declared.

A pipeline is a set of stages. Each stage has a *name* (unique in its job), its *code* (the function
that runs it: `StageContext -> StageResult`, see stages/base.py), a *kind* (the queue that carries it,
so an operator can give it workers of its own), the stages it *needs* (and under which *input* names
its code reads their outputs), and a *weight* in the job's overall progress.

A stage may *fan out*: its result names N items, and the store creates N child runs
`<child>[0] .. <child>[N-1]` (same code and kind each) in the transaction that checkpoints the
parent. Every stage that needs the parent then also waits for all of its children, so a stage that
needs a fan-out parent is its *join*: it runs once, after the last child.

Nothing here runs a stage: the code is only carried, so a process that never runs stages (the API)
never imports stage modules (pipelines/code.py defers each import to the first call).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from mediajobs.errors import InvalidRequest

from .retry import RetryPolicy

MAX_STAGE_NAME = 64
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_MAX_OPTION_ERRORS = 5

OPTIONS_SOURCE = "options:"
"""The source of a job whose input is in its options (a video's scenes): a submit with no `source`
and no `text`, to a pipeline whose `source_schemes` has `options`."""

StageCode = Callable[[Any], Any]
"""A stage's code: `StageContext -> StageResult` (typed in stages/base.py as StageFn)."""


class SubmitCheck(Protocol):
    """A pipeline's check at submit: the options (already valid for its model) against what the
    engines can do and what the input is; answers the options to store, or raises InvalidRequest."""

    def __call__(self, capabilities: Any, options: dict[str, Any], given: Any, /) -> dict[str, Any]: ...


def code_name(code: StageCode, default: str) -> str:
    """A stage function's name (at most 64 characters), or `default` for a callable without one."""
    return str(getattr(code, "__name__", default))[:MAX_STAGE_NAME]


@dataclass(frozen=True, kw_only=True, slots=True)
class QueueKind:
    """A kind of stage work with broker queues of its own (one per lane), so an operator can give it
    workers of its own. Open: pipelines declare the kinds they use, the registry checks them."""

    name: str  # e.g. `transcribe`; the queue of the standard lane has this name
    description: str = ""
    # `mediajobs up` gives this kind a worker of its own, one slot per engine the machine can hold
    # (speech-to-text); every other kind shares one worker.
    own_worker: bool = False

    def __post_init__(self) -> None:
        if not _KIND.match(self.name):
            raise ValueError(f"bad queue kind name {self.name!r} (lower case letters, digits, - and _)")


@dataclass(frozen=True, kw_only=True, slots=True)
class FanOut:
    """How a stage's result becomes child stage runs."""

    child: str  # name prefix of the children: `child[0]`, `child[1]`, ...
    code: StageCode  # what each child runs
    kind: QueueKind  # the queue the children go to
    weight: float = 1.0  # the children's share of the job's progress, split evenly among them
    max_children: int = 1000
    # When set, the children's share is not added to the job's total but taken from this stage (their
    # join), and only when there are children: work that the join would otherwise do itself.
    share_of: str | None = None
    input: str | None = None  # the name the children read their parent's output under (default: its name)

    def child_name(self, index: int) -> str:
        return f"{self.child}[{index}]"


@dataclass(frozen=True, kw_only=True, slots=True)
class StageSpec:
    """One node of a pipeline graph."""

    name: str
    kind: QueueKind
    code: StageCode
    needs: tuple[str, ...] = ()
    # the names its code reads the needed stages' outputs under: {input name: needed stage}; a need
    # not named here is read under its own name
    inputs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    weight: float = 1.0  # share of the job's overall progress
    fan_out: FanOut | None = None
    time_limit: int | None = None  # hard time limit in seconds (default: the deployment's)

    @property
    def code_name(self) -> str:
        """The code's name, recorded with each stage run (for people reading the database)."""
        return code_name(self.code, self.name)

    def input_name(self, need: str) -> str:
        """The name the code reads `need`'s output under."""
        for name, stage in self.inputs.items():
            if stage == need:
                return name
        return need


class NoOptions(BaseModel):
    """A pipeline without options."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, kw_only=True, slots=True)
class Pipeline:
    """Everything that defines a pipeline: its graph and what a submit of it may say."""

    name: str
    stages: tuple[StageSpec, ...]
    options_model: type[BaseModel] = NoOptions
    source_schemes: frozenset[str] = frozenset({"http", "https", "upload"})
    # upload file names it accepts (suffixes, lower case); empty: any (media is judged by ingest)
    accepts_files: tuple[str, ...] = ()
    check: SubmitCheck | None = None  # run at submit, against the engines and the input
    # what GET /jobs/{id}/result answers; `{option}` is filled from the job's options (`speech.{format}`)
    result_artifact: str | None = None
    produces: tuple[str, ...] = ("application/json",)  # the media types of its result and artifacts
    media_result: bool = False  # its result is audio or video that a media pipeline may take as input
    meter: tuple[str, str] | None = None  # (stage, output field): the media seconds reserved (metering.py)
    text_meter: tuple[str, str] | None = None  # (stage, output field): the text characters counted
    retry_policy: RetryPolicy | None = None  # default: the deployment's
    description: str = ""
    _by_name: dict[str, StageSpec] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update(_check_graph(self.name, self.stages))

    @property
    def queue_kinds(self) -> tuple[QueueKind, ...]:
        """The kinds its stages (and fan-out children) run on, in declaration order."""
        kinds: dict[str, QueueKind] = {}
        for spec in self.stages:
            kinds.setdefault(spec.kind.name, spec.kind)
            if spec.fan_out is not None:
                kinds.setdefault(spec.fan_out.kind.name, spec.fan_out.kind)
        return tuple(kinds.values())

    def result_name(self, options: Mapping[str, Any]) -> str | None:
        """The name of the result artifact of a job with these options."""
        if self.result_artifact is None:
            return None
        return self.result_artifact.format_map({k: str(v) for k, v in options.items()})

    # -- the graph -------------------------------------------------------------------------------

    def spec(self, name: str) -> StageSpec:
        """The spec of a declared stage; KeyError for anything else (children included)."""
        return self._by_name[name]

    def spec_of(self, name: str, parent: str | None) -> StageSpec:
        """The spec a stage run follows: its own, or for a fan-out child the one its parent declares."""
        if parent is None:
            return self.spec(name)
        fan_out = self.spec(parent).fan_out
        if fan_out is None:
            raise KeyError(name)
        return StageSpec(
            name=name,
            kind=fan_out.kind,
            code=fan_out.code,
            needs=(parent,),
            inputs={fan_out.input: parent} if fan_out.input else {},
            weight=0.0,
            time_limit=self.spec(parent).time_limit,
        )

    def spec_named(self, run_name: str) -> StageSpec | None:
        """The spec of a stage run known only by its name (`chunk[3]` included); None if unknown."""
        if run_name in self._by_name:
            return self._by_name[run_name]
        child, _, rest = run_name.partition("[")
        for spec in self.stages:
            if spec.fan_out is not None and spec.fan_out.child == child and rest.endswith("]"):
                return self.spec_of(run_name, spec.name)
        return None

    def roots(self) -> tuple[StageSpec, ...]:
        return tuple(s for s in self.stages if not s.needs)

    # -- what a submit may say --------------------------------------------------------------------

    def validate_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        try:
            parsed = self.options_model.model_validate(dict(options or {}))
        except ValidationError as exc:
            errors = exc.errors()
            shown = [
                f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}"
                for err in errors[:_MAX_OPTION_ERRORS]
            ]
            if len(errors) > _MAX_OPTION_ERRORS:
                shown.append(f"and {len(errors) - _MAX_OPTION_ERRORS} more")
            raise InvalidRequest(
                f"invalid options for pipeline {self.name!r}: {'; '.join(shown)}", code="invalid_options"
            ) from exc
        return parsed.model_dump(mode="json")

    def validate_source(self, source: str) -> str:
        source = source.strip()
        parts = urlsplit(source)
        scheme = parts.scheme.lower()
        if scheme not in self.source_schemes:
            allowed = ", ".join(sorted(f"{s}://" for s in self.source_schemes))
            raise InvalidRequest(
                f"unsupported source {source[:200]!r}: pipeline {self.name!r} accepts {allowed}",
                code="invalid_source",
            )
        if scheme in ("http", "https") and (parts.username is not None or parts.password is not None):
            # Refused rather than stored: the source is shown in every job listing and log line.
            raise InvalidRequest(
                "source URLs may not carry credentials (user:password@); "
                "use a pre-signed URL or upload the file",
                code="credentials_in_source",
            )
        if scheme in ("http", "https") and not parts.hostname:
            raise InvalidRequest(f"source URL {source[:200]!r} has no host", code="invalid_source")
        if scheme in ("upload", "job") and not parts.netloc:
            raise InvalidRequest(f"a {scheme}:// source needs an id", code="invalid_source")
        if scheme == "options" and source != OPTIONS_SOURCE:
            raise InvalidRequest(f"a source may not be {source[:200]!r}", code="invalid_source")
        return source


def _check_graph(pipeline: str, stages: tuple[StageSpec, ...]) -> dict[str, StageSpec]:
    """Refuse a graph the store could not run: bad or duplicate names, unknown or later needs."""
    by_name: dict[str, StageSpec] = {}
    children: set[str] = set()
    for spec in stages:
        names = [spec.name, *([spec.fan_out.child] if spec.fan_out else [])]
        for name in names:
            if not _NAME.match(name):
                raise ValueError(f"pipeline {pipeline!r}: bad stage name {name!r}")
            if name in by_name or name in children or names.count(name) > 1:
                raise ValueError(f"pipeline {pipeline!r}: stage name {name!r} is used twice")
        for need in spec.needs:
            if need not in by_name:
                # Needs must be declared first: this also makes a cycle impossible.
                raise ValueError(
                    f"pipeline {pipeline!r}: stage {spec.name!r} needs {need!r}, "
                    "which is not declared before it"
                )
        for input_name, need in spec.inputs.items():
            if need not in spec.needs:
                raise ValueError(
                    f"pipeline {pipeline!r}: stage {spec.name!r} reads input {input_name!r} from "
                    f"{need!r}, which it does not need"
                )
        if spec.weight < 0 or (spec.fan_out is not None and spec.fan_out.weight < 0):
            raise ValueError(f"pipeline {pipeline!r}: stage {spec.name!r} has a negative weight")
        by_name[spec.name] = spec
        if spec.fan_out is not None:
            children.add(spec.fan_out.child)
    if not stages:
        raise ValueError(f"pipeline {pipeline!r} has no stages")
    for spec in stages:
        share_of = spec.fan_out.share_of if spec.fan_out else None
        if spec.fan_out is None or share_of is None:
            continue
        join = by_name.get(share_of)
        if join is None or spec.name not in join.needs or join.weight < spec.fan_out.weight:
            raise ValueError(
                f"pipeline {pipeline!r}: the children of {spec.name!r} take their weight from "
                f"{share_of!r}, which must need {spec.name!r} and weigh at least as much"
            )
    return by_name


class PipelineRegistry(Mapping[str, Pipeline]):
    """The pipelines a process knows, by name. Given to the store and the API; never a global."""

    def __init__(self, pipelines: Iterable[Pipeline] = ()) -> None:
        self._pipelines: dict[str, Pipeline] = {}
        for pipeline in pipelines:
            self.register(pipeline)

    def register(self, pipeline: Pipeline) -> Pipeline:
        if pipeline.name in self._pipelines:
            raise ValueError(f"pipeline {pipeline.name!r} is registered twice")
        known = {kind.name: kind for kind in self.queue_kinds()}
        for kind in pipeline.queue_kinds:
            if known.get(kind.name, kind) != kind:
                raise ValueError(
                    f"pipeline {pipeline.name!r} declares queue kind {kind.name!r} unlike another pipeline"
                )
        self._pipelines[pipeline.name] = pipeline
        return pipeline

    def get_pipeline(self, name: str) -> Pipeline:
        """The named pipeline, or InvalidRequest (`unknown_pipeline`) listing the known ones."""
        try:
            return self._pipelines[name]
        except KeyError:
            known = ", ".join(sorted(self._pipelines))
            raise InvalidRequest(
                f"unknown pipeline {name[:64]!r}; known pipelines: {known}", code="unknown_pipeline"
            ) from None

    def queue_kinds(self) -> tuple[QueueKind, ...]:
        """Every kind a stage of these pipelines runs on (each name once)."""
        kinds: dict[str, QueueKind] = {}
        for pipeline in self._pipelines.values():
            for kind in pipeline.queue_kinds:
                kinds.setdefault(kind.name, kind)
        return tuple(kinds.values())

    def __getitem__(self, name: str) -> Pipeline:
        return self._pipelines[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._pipelines)

    def __len__(self) -> int:
        return len(self._pipelines)


__all__ = [
    "OPTIONS_SOURCE",
    "FanOut",
    "NoOptions",
    "Pipeline",
    "PipelineRegistry",
    "QueueKind",
    "StageCode",
    "StageSpec",
    "SubmitCheck",
    "code_name",
]
