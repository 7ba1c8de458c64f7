"""notifications: templates, preferences, quiet hours, push devices, delivery scheduling

Revision ID: notif_0002
Revises: notif_0001
Create Date: 2026-11-23 15:41:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ludus.core.kit.rls import disable_tenant_rls, enable_tenant_rls

revision = "notif_0002"
down_revision = "notif_0001"
branch_labels = None
depends_on = None

TENANT_TABLES = ("notification_preferences", "notification_settings", "notification_push_devices")


def _message_columns() -> list[sa.Column]:
    return [
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("template_key", sa.String(100)),
        sa.Column("locale", sa.String(16)),
        sa.Column("dedupe_key", sa.String(200)),
        sa.Column("status_updated_at", sa.DateTime(timezone=True)),
    ]


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def _tenant_fk(table: str, ondelete: str = "RESTRICT") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete=ondelete
    )


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    for column in _message_columns():
        op.add_column("notification_messages", column)
    op.create_index(
        op.f("ix_notification_messages_provider_provider_message_id"),
        "notification_messages",
        ["provider", "provider_message_id"],
    )
    op.create_index(
        op.f("ix_notification_messages_next_attempt_at"),
        "notification_messages",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        op.f("ix_notification_messages_tenant_id_user_id_created_at"),
        "notification_messages",
        ["tenant_id", "user_id", "created_at"],
        postgresql_where=sa.text("channel = 'in_app'"),
    )
    op.create_index(
        op.f("uq_notification_messages_tenant_id_dedupe_key_channel_recipient"),
        "notification_messages",
        ["tenant_id", "dedupe_key", "channel", "recipient"],
        unique=True,
        postgresql_where=sa.text("dedupe_key IS NOT NULL"),
    )

    op.create_table(
        "notification_templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid()),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text()),
        sa.Column("body", sa.Text(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_templates")),
        _tenant_fk("notification_templates", "CASCADE"),
    )
    op.create_index(
        op.f("ix_notification_templates_tenant_id"), "notification_templates", ["tenant_id"]
    )
    op.create_index(
        op.f("uq_notification_templates_tenant_id_key_channel_locale"),
        "notification_templates",
        ["tenant_id", "key", "channel", "locale"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "notification_preferences",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_preferences")),
        _tenant_fk("notification_preferences"),
        _user_fk("notification_preferences"),
        sa.UniqueConstraint(
            "tenant_id",
            "user_id",
            "kind",
            "channel",
            name=op.f("uq_notification_preferences_tenant_id_user_id_kind_channel"),
        ),
    )
    op.create_index(
        op.f("ix_notification_preferences_tenant_id"), "notification_preferences", ["tenant_id"]
    )
    op.create_index(
        op.f("ix_notification_preferences_user_id"), "notification_preferences", ["user_id"]
    )
    op.create_table(
        "notification_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("quiet_start", sa.Time()),
        sa.Column("quiet_end", sa.Time()),
        *_timestamps(),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name=op.f("pk_notification_settings")),
        _tenant_fk("notification_settings"),
        _user_fk("notification_settings"),
    )
    op.create_table(
        "notification_push_devices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token", sa.String(320), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_push_devices")),
        _tenant_fk("notification_push_devices"),
        _user_fk("notification_push_devices"),
        sa.UniqueConstraint(
            "tenant_id", "token", name=op.f("uq_notification_push_devices_tenant_id_token")
        ),
    )
    op.create_index(
        op.f("ix_notification_push_devices_tenant_id"), "notification_push_devices", ["tenant_id"]
    )
    op.create_index(
        op.f("ix_notification_push_devices_user_id"), "notification_push_devices", ["user_id"]
    )

    for table in TENANT_TABLES:
        enable_tenant_rls(table)
    # Templates: a tenant writes only its own rows but also reads the platform defaults
    # (tenant_id NULL); permissive policies are OR-ed per command, so only SELECT widens.
    enable_tenant_rls("notification_templates")
    op.execute(
        "CREATE POLICY platform_read ON notification_templates FOR SELECT USING (tenant_id IS NULL)"
    )


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS platform_read ON notification_templates")
    disable_tenant_rls("notification_templates")
    for table in TENANT_TABLES:
        disable_tenant_rls(table)
    for table in (
        "notification_push_devices",
        "notification_settings",
        "notification_preferences",
        "notification_templates",
    ):
        op.drop_table(table)
    for name in (
        "uq_notification_messages_tenant_id_dedupe_key_channel_recipient",
        "ix_notification_messages_tenant_id_user_id_created_at",
        "ix_notification_messages_next_attempt_at",
        "ix_notification_messages_provider_provider_message_id",
    ):
        op.drop_index(op.f(name), table_name="notification_messages")
    for column in _message_columns():
        op.drop_column("notification_messages", column.name)
