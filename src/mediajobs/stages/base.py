"""What a stage is given and what it returns. Stages know nothing of HTTP, Celery or the database."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from mediajobs.cancel import CancelToken
from mediajobs.domain import Artifact, JsonDict
from mediajobs.errors import JobCancelled, LeaseLost, NotFound, PermanentError, StageTimeout
from mediajobs.storage.keys import stage_key

if TYPE_CHECKING:
    from mediajobs.engines import Engines
    from mediajobs.settings import Settings
    from mediajobs.storage import Storage


class ProgressSink(Protocol):
    """Where a stage reports how far it is. Cheap to call often: the runner throttles writes."""

    def report(self, percent: float | None, message: str | None = None) -> None:
        """`percent` of this stage, 0-100, or None when the stage cannot tell (indeterminate)."""
        ...


class NullProgress:
    def report(self, percent: float | None, message: str | None = None) -> None:
        return None


@dataclass(frozen=True, kw_only=True, slots=True)
class ArtifactFile:
    """A finished result file the stage made; the runner moves it into the job's artifacts."""

    name: str  # e.g. transcript.srt
    path: Path  # where the stage wrote it (inside its work dir)
    content_type: str


@dataclass(frozen=True, kw_only=True, slots=True)
class StageResult:
    """A stage's output: the checkpoint committed with the stage's success, its artifacts, and for
    a stage that fans out, one params dict per child run to create (see domain/graph.py)."""

    output: JsonDict
    artifacts: Sequence[ArtifactFile] = ()
    children: Sequence[JsonDict] = ()


@dataclass(frozen=True, kw_only=True)
class StageContext:
    """Everything one attempt of one stage may use."""

    job_id: uuid.UUID
    stage: str
    attempt: int
    source: str
    options: JsonDict
    # committed outputs of the stages this one waits for, under the input names its pipeline gives them
    inputs: Mapping[str, JsonDict]
    work_dir: Path  # a local scratch folder of this attempt's own; emptied when the attempt ends
    storage: Storage
    settings: Settings
    engines: Engines
    fence: int = 0  # this attempt's fencing token (part of the keys it writes)
    params: JsonDict = field(default_factory=dict)  # what a fan-out parent handed this child
    progress: ProgressSink = field(default_factory=NullProgress)
    cancel: CancelToken = field(default_factory=CancelToken)
    # (job id, name) -> that job's artifact, for a `job://` source (the API checked the job is the
    # caller's own and finished); None where no store is at hand
    find_artifact: Callable[[uuid.UUID, str], Artifact] | None = None
    # the job owner's `whsec_` signing secrets (signing.py): theirs, made on first need, then the one it
    # replaced while a rotation's window lasts; None where no store is
    owner_secrets: Callable[[], Sequence[str]] | None = None

    def output_key(self, name: str) -> str:
        """The storage key for a file this attempt checkpoints."""
        return stage_key(self.job_id, self.stage, self.fence, name)

    def job_artifact(self, job_id: str, names: Sequence[str]) -> Artifact | None:
        """The first of `names` that job `job_id` has as an artifact (a `job://` source), else None."""
        if self.find_artifact is None:
            raise PermanentError("this worker cannot read other jobs' results", code="invalid_source")
        for name in names:
            try:
                return self.find_artifact(uuid.UUID(job_id), name)
            except (NotFound, ValueError):
                continue
        return None

    def input_key(self, name: str, what: str) -> str:
        """The storage key that the stage the pipeline gives this one as input `name` checkpointed as
        `<what>_key` (or, in checkpoints written before storage keys, `<what>_path`: the same value)."""
        output = self.inputs.get(name) or {}
        value = output.get(f"{what}_key") or output.get(f"{what}_path")
        if not isinstance(value, str) or not value:
            raise PermanentError(
                f"input {name!r} holds no {what} file for stage {self.stage!r}", code="missing_input"
            )
        return value


OptionsT = TypeVar("OptionsT", bound=BaseModel)


def stage_options(ctx: StageContext, model: type[OptionsT]) -> OptionsT:
    """The job's options as `model` (the submit checked them; a stored job of an older version may
    fail here, permanently)."""
    known = {k: v for k, v in ctx.options.items() if k in model.model_fields}  # a pipeline may have more
    try:
        return model.model_validate(known)
    except ValidationError as exc:
        raise PermanentError(
            f"invalid options for stage {ctx.stage!r}: {exc}", code="invalid_options"
        ) from exc


StageFn = Callable[[StageContext], StageResult]


class Stage(Protocol):
    def __call__(self, ctx: StageContext) -> StageResult: ...


__all__ = [
    "ArtifactFile",
    "CancelToken",
    "JobCancelled",
    "LeaseLost",
    "NullProgress",
    "ProgressSink",
    "Stage",
    "StageContext",
    "StageFn",
    "StageResult",
    "StageTimeout",
    "stage_options",
]
