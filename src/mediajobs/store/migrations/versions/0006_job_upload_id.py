"""jobs.upload_id: the upload a job reads, so uploads no job refers to can be found and removed

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("upload_id", sa.Uuid(), nullable=True))
        batch.create_index("ix_jobs_upload_id", ["upload_id"])
    jobs = sa.table(
        "jobs", sa.column("id", sa.Uuid()), sa.column("source", sa.Text()), sa.column("upload_id", sa.Uuid())
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(jobs.c.id, jobs.c.source).where(jobs.c.source.like("upload://%"))).all()
    for job_id, source in rows:
        try:
            upload_id = uuid.UUID(source.removeprefix("upload://"))
        except ValueError:
            continue
        conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(upload_id=upload_id))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_upload_id")
        batch.drop_column("upload_id")
