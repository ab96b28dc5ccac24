"""tenancy: user tiers and admins, API keys (hashed), usage per period, periodic task runs

- users: `tier`, `is_admin`, `disabled_at`; the local user becomes an enterprise admin, so existing
  deployments keep working with the local key the embedded default creates
- api_keys, usage, task_runs: new
- jobs: `media_seconds`, `charged_at` (usage charged once the media's length is known)
- stage_runs: `routed_lane` (the lane a stage's message went to: batch work can age into standard)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JsonType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("tier", sa.String(length=16), nullable=False, server_default="free"))
        batch.add_column(sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint("uq_users_name", ["name"])
    op.execute("UPDATE users SET tier = 'enterprise', is_admin = TRUE WHERE id = 'local'")
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_index("ix_api_keys_user", "api_keys", ["user_id"])
    op.create_table(
        "usage",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("jobs", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("media_seconds", sa.Float(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_usage_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "period", name=op.f("pk_usage")),
    )
    op.create_table(
        "task_runs",
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", JsonType, nullable=True),
        sa.PrimaryKeyConstraint("task", "period", name=op.f("pk_task_runs")),
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("media_seconds", sa.Float(), nullable=True))
        batch.add_column(sa.Column("charged_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("stage_runs") as batch:
        batch.add_column(sa.Column("routed_lane", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stage_runs") as batch:
        batch.drop_column("routed_lane")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("charged_at")
        batch.drop_column("media_seconds")
    op.drop_table("task_runs")
    op.drop_table("usage")
    op.drop_index("ix_api_keys_user", table_name="api_keys")
    op.drop_table("api_keys")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_name", type_="unique")
        batch.drop_column("disabled_at")
        batch.drop_column("is_admin")
        batch.drop_column("tier")
