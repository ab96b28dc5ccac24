"""Artifacts: the result files of a job, recorded with the stage success that produced them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select

from mediajobs.domain import Artifact
from mediajobs.errors import NotFound

from .mapping import artifact_from_row
from .tables import ArtifactRow
from .tx import Database, Tx


@dataclass(frozen=True, kw_only=True, slots=True)
class ArtifactRecord:
    name: str
    content_type: str
    size: int
    key: str  # where the file is in storage


def record_artifacts(tx: Tx, job_id: uuid.UUID, artifacts: Sequence[ArtifactRecord]) -> None:
    """Point the job's artifact names at these files (a re-run replaces what an earlier run left)."""
    if not artifacts:
        return
    names = [a.name for a in artifacts]
    tx.conn.execute(delete(ArtifactRow).where(ArtifactRow.job_id == job_id, ArtifactRow.name.in_(names)))
    tx.conn.execute(
        insert(ArtifactRow),
        [
            dict(
                job_id=job_id,
                name=a.name,
                content_type=a.content_type,
                size=a.size,
                storage_key=a.key,
                created_at=tx.now,
            )
            for a in artifacts
        ],
    )


class Artifacts:
    def __init__(self, db: Database) -> None:
        self._db = db

    def list_artifacts(self, job_id: uuid.UUID) -> tuple[Artifact, ...]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(ArtifactRow.__table__).where(ArtifactRow.job_id == job_id).order_by(ArtifactRow.name)
            ).all()
        return tuple(artifact_from_row(r) for r in rows)

    def get_artifact(self, job_id: uuid.UUID, name: str) -> Artifact:
        with self._db.read() as conn:
            row = conn.execute(
                select(ArtifactRow.__table__).where(ArtifactRow.job_id == job_id, ArtifactRow.name == name)
            ).one_or_none()
        if row is None:
            raise NotFound(f"job {job_id} has no artifact {name[:200]!r}")
        return artifact_from_row(row)


__all__ = ["ArtifactRecord", "Artifacts", "record_artifacts"]
