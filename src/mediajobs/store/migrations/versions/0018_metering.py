"""Metering: media reserved while a job runs, and text characters read

- usage: `reserved_seconds` (media held by the user's running jobs, settled into `media_seconds`
  when each ends) and `characters` (text read by translate and synthesize jobs)
- jobs: `reserved_seconds` (what this job holds until it ends; NULL once settled). `charged_at`
  now says when the media was measured and reserved.

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage") as batch:
        batch.add_column(sa.Column("reserved_seconds", sa.Float(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("characters", sa.BigInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("reserved_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("reserved_seconds")
    with op.batch_alter_table("usage") as batch:
        batch.drop_column("characters")
        batch.drop_column("reserved_seconds")
