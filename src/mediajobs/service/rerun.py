"""Rerun: a new job that re-runs an old one from one of its stages (POST /api/v1/jobs/{id}/rerun).

The new job gets its own copies of the files the reused stages checkpointed (and of the artifacts
they made), under its own storage folder: deleting or expiring the old job never takes a re-run's
inputs with it. See domain/rerun.py for which stages are reused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from mediajobs.domain import Artifact, Job, JobStatus, JsonDict, StageRun
from mediajobs.domain.rerun import plan_rerun
from mediajobs.errors import Conflict, NotFound
from mediajobs.storage import Storage, job_prefix
from mediajobs.store import ArtifactRecord, Caller
from mediajobs.wiring import Services

from .actions import quota_of
from .submit import announce, stored_input

_COPY_CHUNK = 1024 * 1024


def rerun(
    services: Services, caller: Caller, job_id: uuid.UUID, *, from_stage: str, options: Mapping[str, Any]
) -> Job:
    """Write a new job re-running `job_id` from `from_stage` with `options` over the old ones, then
    admit and publish the stages it made ready."""
    job = services.dispatcher.settled(_write, services, caller, job_id, from_stage, options)
    announce(services, caller, job)
    return job


def _write(
    services: Services, owner: Caller, job_id: uuid.UUID, from_stage: str, options: Mapping[str, Any]
) -> Job:
    store, storage = services.store, services.storage
    old = store.jobs.get_job(job_id, owner.scope)  # someone else's job: 404, as for every read
    if old.status in (JobStatus.DELETED, JobStatus.EXPIRED):
        raise Conflict(
            f"job {job_id} is {old.status.value}: its files were removed", code="job_files_removed"
        )
    pipeline = services.pipelines.get_pipeline(old.pipeline)
    plan = plan_rerun(pipeline, old.stages, from_stage)
    merged = pipeline.validate_options({**old.options, **options})
    # The engines must be able to do what the merged options ask, as at a submit: checked before
    # anything is copied or charged (a re-run refused here costs nothing).
    merged = services.capabilities.check(pipeline, merged, stored_input(services, old))
    new_id = uuid.uuid4()
    moved = _Mover(storage, old.id, new_id)
    try:
        reused = [replace(run, output=moved.output(run.output or {})) for run in plan.reused]
        artifacts = [
            moved.artifact(found)
            for run in plan.reused
            for name in _artifacts_of(run)
            if (found := _artifact(services, old.id, name)) is not None
        ]
        job = store.jobs.create_rerun(
            job_id=new_id,
            old=old,
            pipeline=pipeline,
            options=merged,
            reused=reused,
            redo=plan.redo,
            artifacts=artifacts,
            quota=quota_of(services, owner),
        )
        store.stored.count_job(new_id, moved.copied)  # its copies count as its own (not refused)
        return job
    except BaseException:
        storage.delete_prefix(job_prefix(new_id))
        raise


def _artifact(services: Services, job_id: uuid.UUID, name: str) -> Artifact | None:
    try:
        return services.store.artifacts.get_artifact(job_id, name)
    except NotFound:  # replaced or removed since: the new job simply does not list it
        return None


def _artifacts_of(run: StageRun) -> list[str]:
    names = (run.output or {}).get("artifacts")
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


class _Mover:
    """Copies files under the old job's storage folder to the same place under the new job's."""

    def __init__(self, storage: Storage, old: uuid.UUID, new: uuid.UUID) -> None:
        self._storage = storage
        self._old, self._new = job_prefix(old), job_prefix(new)
        self.copied = 0  # bytes

    def key(self, key: str) -> str:
        if not key.startswith(self._old):
            return key  # an upload, or anything else the job does not own
        target = self._new + key[len(self._old) :]
        with self._storage.open(key) as fh:
            self.copied += self._storage.write(target, _chunks(fh)).size
        return target

    def output(self, output: JsonDict) -> JsonDict:
        """A checkpoint whose file keys (`<what>_key`, `<what>_path`) name the new job's copies."""
        return {
            k: self.key(v) if isinstance(v, str) and k.endswith(("_key", "_path")) else v
            for k, v in output.items()
        }

    def artifact(self, artifact: Artifact) -> ArtifactRecord:
        return ArtifactRecord(
            name=artifact.name,
            content_type=artifact.content_type,
            size=artifact.size,
            key=self.key(artifact.key),
        )


def _chunks(fh: Any) -> Iterator[bytes]:
    while chunk := fh.read(_COPY_CHUNK):
        yield chunk


__all__ = ["rerun"]
