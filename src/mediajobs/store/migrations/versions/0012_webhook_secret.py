"""users.webhook_secret: the `whsec_` secret outbound messages to a user are signed with

Created the first time it is needed (GET /api/v1/me shows it; a video job that publishes to an
endpoint signs with it) and stored as it is, since signing needs the secret itself and its owner
must be able to read it back.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("webhook_secret", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("webhook_secret")
