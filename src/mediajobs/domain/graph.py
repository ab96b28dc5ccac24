"""Pipelines as stage graphs: data, checked once when declared.

A pipeline is a set of stages. Each stage has a *name* (unique in its job), a *run* key (which code
runs it: the runner looks the code up by this key), a *kind* (which queue carries it, so an operator
can give it workers of its own), the stages it *needs*, and a *weight* in the job's overall progress.

A stage may *fan out*: its result names N items, and the store creates N child runs
`<child>[0] .. <child>[N-1]` (same run key and kind each) in the transaction that checkpoints the
parent. Every stage that needs the parent then also waits for all of its children, so a stage that
needs a fan-out parent is its *join*: it runs once, after the last child.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from mediajobs.errors import InvalidRequest

MAX_STAGE_NAME = 64
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_MAX_OPTION_ERRORS = 5


class StageKind(enum.StrEnum):
    """Kinds of stage; each has its own Celery queue so an operator can give it dedicated workers."""

    DOWNLOAD = "download"  # fetch the source into storage (network-bound)
    MEDIA = "media"  # ffprobe/ffmpeg conversions (CPU, short)
    TRANSCRIBE = "transcribe"  # speech-to-text (CPU/GPU, long, large model in memory)
    TRANSLATE = "translate"  # machine translation of text (Apertium: CPU, short)
    SYNTHESIZE = "synthesize"  # text-to-speech (espeak-ng: CPU, short)

    @classmethod
    def all(cls) -> tuple[StageKind, ...]:
        return tuple(cls)


@dataclass(frozen=True, kw_only=True, slots=True)
class FanOut:
    """How a stage's result becomes child stage runs."""

    child: str  # name prefix of the children: `child[0]`, `child[1]`, ...
    run: str  # the code each child runs
    kind: StageKind  # the queue the children go to
    weight: float = 1.0  # the children's share of the job's progress, split evenly among them
    max_children: int = 1000
    # When set, the children's share is not added to the job's total but taken from this stage (their
    # join), and only when there are children: work that the join would otherwise do itself.
    share_of: str | None = None

    def child_name(self, index: int) -> str:
        return f"{self.child}[{index}]"


@dataclass(frozen=True, kw_only=True, slots=True)
class StageSpec:
    """One node of a pipeline graph."""

    name: str
    kind: StageKind
    run: str = ""  # the code that runs it; defaults to the stage's name
    needs: tuple[str, ...] = ()
    weight: float = 1.0  # share of the job's overall progress
    fan_out: FanOut | None = None

    @property
    def run_key(self) -> str:
        return self.run or self.name


class NoOptions(BaseModel):
    """A pipeline without options."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, kw_only=True, slots=True)
class Pipeline:
    name: str
    stages: tuple[StageSpec, ...]
    options_model: type[BaseModel] = NoOptions
    source_schemes: frozenset[str] = frozenset({"http", "https", "upload"})
    # what GET /jobs/{id}/result answers; `{option}` is filled from the job's options (`speech.{format}`)
    result_artifact: str | None = None
    meter: tuple[str, str] | None = None  # (stage, output field) whose value in seconds is charged to usage
    description: str = ""
    _by_name: dict[str, StageSpec] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update(_check_graph(self.name, self.stages))

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
        return StageSpec(name=name, kind=fan_out.kind, run=fan_out.run, needs=(parent,), weight=0.0)

    def roots(self) -> tuple[StageSpec, ...]:
        return tuple(s for s in self.stages if not s.needs)

    def topological(self) -> tuple[StageSpec, ...]:
        """The declared stages, each after every stage it needs (declaration order among equals)."""
        return self.stages  # _check_graph refuses any other declaration order

    # Delegations to the pure rules, for callers that hold a pipeline (see transitions.py).

    def ready_after(self, runs: Mapping[str, Any]) -> tuple[StageSpec, ...]:
        from .transitions import ready_stages

        return tuple(self.spec_of(r.name, r.parent) for r in ready_stages(self, runs.values()))

    def progress(self, runs: Mapping[str, Any]) -> float:
        from .transitions import job_progress

        return job_progress(self, runs.values())

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

    def run_keys(self) -> frozenset[str]:
        """Every code key a stage of these pipelines may run (declared stages and fan-out children)."""
        keys = set()
        for pipeline in self._pipelines.values():
            for spec in pipeline.stages:
                keys.add(spec.run_key)
                if spec.fan_out is not None:
                    keys.add(spec.fan_out.run)
        return frozenset(keys)

    def __getitem__(self, name: str) -> Pipeline:
        return self._pipelines[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._pipelines)

    def __len__(self) -> int:
        return len(self._pipelines)


__all__ = ["FanOut", "NoOptions", "Pipeline", "PipelineRegistry", "StageKind", "StageSpec"]
