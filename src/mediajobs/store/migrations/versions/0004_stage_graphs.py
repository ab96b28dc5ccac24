"""stage graphs, lanes, storage keys, worker heartbeats

- stage_runs: `run` (which code runs the stage), `parent`, `child_index`, `params` (fan-out children)
- jobs: `lane` (routing is lane x stage kind)
- uploads/artifacts: `path` becomes `storage_key` (the same values: keys are the old relative paths)
- stage_runs.reserved_by/reserved_at: the worker that took a stage's message from the broker
- workers: heartbeats of worker processes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JsonType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("stage_runs") as batch:
        batch.add_column(sa.Column("run", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("parent", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("child_index", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("params", JsonType, nullable=True))
        batch.add_column(sa.Column("reserved_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE stage_runs SET run = name")
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("lane", sa.String(length=16), nullable=False, server_default="standard"))
    for table in ("uploads", "artifacts"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("path", new_column_name="storage_key", existing_type=sa.Text())
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )


def downgrade() -> None:
    op.drop_table("workers")
    for table in ("uploads", "artifacts"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("storage_key", new_column_name="path", existing_type=sa.Text())
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("lane")
    with op.batch_alter_table("stage_runs") as batch:
        batch.drop_column("reserved_at")
        batch.drop_column("reserved_by")
        batch.drop_column("params")
        batch.drop_column("child_index")
        batch.drop_column("parent")
        batch.drop_column("run")
