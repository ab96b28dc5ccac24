"""jobs.error_retryable and stage_runs.error_retryable: whether a failure may succeed another time

A permanent failure (a PermanentError such as `unsupported_media`, or a time limit) fails again on
the same input; the job JSON says so (`error.retryable`) and `mediajobs retry --failed` skips those.
Failures recorded before this column are NULL, read as retryable (what `retry --failed` did then).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("jobs", "stage_runs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("error_retryable", sa.Boolean(), nullable=True))


def downgrade() -> None:
    for table in ("stage_runs", "jobs"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("error_retryable")
