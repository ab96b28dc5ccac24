"""users.event_key: the secret a user's event ids are shown under

Events are numbered by one counter for every user (`job_events.id`); shown as they are, the gaps
between one user's ids told them how much everybody else was doing. The API shows each user their
events' ids through a keyed permutation (progress/cursor.py) under this per-user key, made on first
need and never shown to anybody.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("event_key", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("event_key")
