"""workers.queues and workers.concurrency: what each live worker consumes, and with how many slots

A job whose next stage waits on a queue that no live worker consumes says so (`waiting.reason =
no_worker`), and GET /api/v1/queues lists each queue's consumers: both read these columns.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.add_column(
            sa.Column(
                "queues", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False, server_default="[]"
            )
        )
        batch.add_column(sa.Column("concurrency", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("concurrency")
        batch.drop_column("queues")
