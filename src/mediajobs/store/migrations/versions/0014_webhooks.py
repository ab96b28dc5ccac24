"""webhooks: a job's or batch's callback_url, each delivery's message and attempts, disabled
endpoints, and a rotated signing secret's predecessor

- jobs.callback_url, batches.callback_url: where the end is announced;
- hook_deliveries: a batch's deliveries too (batch_id; job_id may be null), the owner, the destination,
  the message (`message_id`, the same on every attempt; `body`, kept from the first attempt on), the
  worker that took its message (`reserved_by`, so a dead worker's deliveries go out again at once),
  and the delivery a manual redelivery copied; events are named `job.finished` / `batch.finished`;
- hook_attempts: every try (status, latency, error);
- disabled_endpoints: destinations whose receiver answered 410, per user;
- users.previous_webhook_secret, users.webhook_secret_rotated_at: a rotation's window.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    for table in ("jobs", "batches"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("callback_url", sa.Text(), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("previous_webhook_secret", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("webhook_secret_rotated_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("hook_deliveries") as batch:
        batch.add_column(sa.Column("owner_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("batch_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("destination", sa.Text(), nullable=True))
        batch.add_column(sa.Column("message_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("body", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reserved_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("redelivery_of", BIGINT, nullable=True))
    op.execute(
        "UPDATE hook_deliveries SET owner_id = (SELECT jobs.owner_id FROM jobs WHERE jobs.id = "
        "hook_deliveries.job_id), destination = '', message_id = 'msg_' || id"
    )
    op.execute("UPDATE hook_deliveries SET event = 'job.finished' WHERE event = 'job_finished'")
    with op.batch_alter_table("hook_deliveries") as batch:
        batch.alter_column("owner_id", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("destination", existing_type=sa.Text(), nullable=False)
        batch.alter_column("message_id", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("job_id", existing_type=sa.Uuid(), nullable=True)
        batch.create_foreign_key(
            op.f("fk_hook_deliveries_batch_id_batches"), "batches", ["batch_id"], ["id"], ondelete="CASCADE"
        )
    op.create_index("ix_hook_deliveries_batch", "hook_deliveries", ["batch_id"])
    op.create_index("ix_hook_deliveries_owner_created", "hook_deliveries", ["owner_id", "created_at", "id"])

    op.create_table(
        "hook_attempts",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("delivery_id", BIGINT, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_seconds", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["hook_deliveries.id"],
            name=op.f("fk_hook_attempts_delivery_id_hook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hook_attempts")),
    )
    op.create_index("ix_hook_attempts_delivery", "hook_attempts", ["delivery_id", "number"])

    op.create_table(
        "disabled_endpoints",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("hook", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("destination_key", sa.String(length=64), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("delivery_id", BIGINT, nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_disabled_endpoints_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disabled_endpoints")),
        sa.UniqueConstraint("owner_id", "hook", "destination_key", name="uq_disabled_endpoints_destination"),
    )


def downgrade() -> None:
    op.drop_table("disabled_endpoints")
    op.drop_index("ix_hook_attempts_delivery", table_name="hook_attempts")
    op.drop_table("hook_attempts")
    op.drop_index("ix_hook_deliveries_owner_created", table_name="hook_deliveries")
    op.drop_index("ix_hook_deliveries_batch", table_name="hook_deliveries")
    op.execute("DELETE FROM hook_deliveries WHERE job_id IS NULL")
    op.execute("UPDATE hook_deliveries SET event = 'job_finished' WHERE event = 'job.finished'")
    with op.batch_alter_table("hook_deliveries") as batch:
        batch.drop_constraint(op.f("fk_hook_deliveries_batch_id_batches"), type_="foreignkey")
        batch.alter_column("job_id", existing_type=sa.Uuid(), nullable=False)
        for column in (
            "redelivery_of",
            "reserved_at",
            "reserved_by",
            "body",
            "message_id",
            "destination",
            "batch_id",
            "owner_id",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("webhook_secret_rotated_at")
        batch.drop_column("previous_webhook_secret")
    for table in ("batches", "jobs"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("callback_url")
