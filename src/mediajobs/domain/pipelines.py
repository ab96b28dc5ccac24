"""Pipelines as stage graphs, declared in one place.

A pipeline is data: named stages, each of a *kind* (which decides the queue and the code that runs it)
and the stages it needs. The runner starts every stage whose needs have succeeded, so a pipeline can
grow into a graph (fan-out, merge) without touching the runner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mediajobs.errors import InvalidRequest

from .models import StageRun, StageStatus


class StageKind:
    """Kinds of stage; each has its own Celery queue so an operator can give it dedicated workers."""

    DOWNLOAD = "download"  # fetch the source into storage (network-bound)
    MEDIA = "media"  # ffprobe/ffmpeg conversions (CPU, short)
    TRANSCRIBE = "transcribe"  # speech-to-text (CPU/GPU, long, large model in memory)

    ALL = (DOWNLOAD, MEDIA, TRANSCRIBE)


@dataclass(frozen=True, kw_only=True, slots=True)
class StageSpec:
    """One node of a pipeline graph."""

    name: str
    kind: str
    needs: tuple[str, ...] = ()
    weight: float = 1.0  # share of the job's overall progress


class TranscribeOptions(BaseModel):
    """Options of the `transcribe` pipeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str | None = Field(
        default=None, min_length=2, max_length=8, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)?$"
    )
    vad: bool = False
    word_timestamps: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Pipeline:
    name: str
    stages: tuple[StageSpec, ...]
    options_model: type[BaseModel]
    source_schemes: frozenset[str]
    description: str = ""

    def spec(self, name: str) -> StageSpec:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def roots(self) -> tuple[StageSpec, ...]:
        return tuple(s for s in self.stages if not s.needs)

    def ready_after(self, runs: Mapping[str, StageRun]) -> tuple[StageSpec, ...]:
        """Pending stages whose every need has succeeded, given the current stage runs."""
        ready = []
        for spec in self.stages:
            run = runs.get(spec.name)
            if run is None or run.status is not StageStatus.PENDING:
                continue
            if all(runs[n].status is StageStatus.SUCCEEDED for n in spec.needs if n in runs):
                ready.append(spec)
        return tuple(ready)

    def progress(self, runs: Mapping[str, StageRun]) -> float:
        """Overall percent 0-100 from each stage's own percent, weighted."""
        total = sum(s.weight for s in self.stages) or 1.0
        done = 0.0
        for spec in self.stages:
            run = runs.get(spec.name)
            if run is None:
                continue
            pct = 100.0 if run.status is StageStatus.SUCCEEDED else max(0.0, min(100.0, run.progress))
            done += spec.weight * pct
        return round(done / total, 2)

    def validate_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        try:
            parsed = self.options_model.model_validate(dict(options or {}))
        except ValidationError as exc:
            details = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}" for err in exc.errors()
            )
            raise InvalidRequest(
                f"invalid options for pipeline {self.name!r}: {details}", code="invalid_options"
            ) from exc
        return parsed.model_dump(mode="json")

    def validate_source(self, source: str) -> str:
        source = source.strip()
        scheme = urlsplit(source).scheme.lower()
        if scheme not in self.source_schemes:
            allowed = ", ".join(sorted(f"{s}://" for s in self.source_schemes))
            raise InvalidRequest(
                f"unsupported source {source[:200]!r}: pipeline {self.name!r} accepts {allowed}",
                code="invalid_source",
            )
        parts = urlsplit(source)
        if scheme in ("http", "https") and not parts.hostname:
            raise InvalidRequest(f"source URL {source[:200]!r} has no host", code="invalid_source")
        if scheme == "upload" and not parts.netloc:
            raise InvalidRequest("an upload:// source needs an upload id", code="invalid_source")
        return source


TRANSCRIBE = Pipeline(
    name="transcribe",
    description="Fetch audio or video, normalise it to 16 kHz mono WAV, transcribe it to SRT/VTT/TXT/JSON.",
    stages=(
        StageSpec(name="ingest", kind=StageKind.DOWNLOAD, weight=1.0),
        StageSpec(name="normalize", kind=StageKind.MEDIA, needs=("ingest",), weight=1.0),
        StageSpec(name="transcribe", kind=StageKind.TRANSCRIBE, needs=("normalize",), weight=6.0),
    ),
    options_model=TranscribeOptions,
    source_schemes=frozenset({"http", "https", "upload"}),
)

PIPELINES: dict[str, Pipeline] = {p.name: p for p in (TRANSCRIBE,)}


def get_pipeline(name: str) -> Pipeline:
    try:
        return PIPELINES[name]
    except KeyError:
        known = ", ".join(sorted(PIPELINES))
        raise InvalidRequest(
            f"unknown pipeline {name!r}; known pipelines: {known}", code="unknown_pipeline"
        ) from None
