"""jobs.stored_bytes and an index on uploads.owner_id: a user's stored bytes

A user's stored bytes are their uploads' sizes plus what their jobs' stages and artifacts stored
(issue 23, finding 3). Each job counts its own, charged as each file is stored and set back to 0
when its files are removed; jobs stored before this revision count 0 (their files are not known
without listing storage) until they expire or are deleted.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("stored_bytes", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_uploads_owner", "uploads", ["owner_id"])


def downgrade() -> None:
    op.drop_index("ix_uploads_owner", table_name="uploads")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("stored_bytes")
