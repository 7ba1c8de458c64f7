"""notification messages

Revision ID: notif_0001
Revises: core_0001
Create Date: 2026-11-23 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ludus.core.kit.rls import disable_tenant_rls, enable_tenant_rls

revision = "notif_0001"
down_revision = "core_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid()),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300)),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider", sa.String(32)),
        sa.Column("provider_message_id", sa.String(128)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_messages")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_notification_messages_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
    )
    op.create_index(
        op.f("ix_notification_messages_tenant_id"), "notification_messages", ["tenant_id"]
    )
    op.create_index(op.f("ix_notification_messages_user_id"), "notification_messages", ["user_id"])
    op.create_index(
        op.f("ix_notification_messages_created_at"), "notification_messages", ["created_at"]
    )
    enable_tenant_rls("notification_messages")


def downgrade() -> None:
    disable_tenant_rls("notification_messages")
    op.drop_table("notification_messages")
