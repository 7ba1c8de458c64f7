"""auth flows: refresh tokens, OTP challenges, reset tokens, trusted devices, API keys, families

Revision ID: auth_0001
Revises: core_0001
Create Date: 2026-11-23 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ludus.core.kit.rls import disable_tenant_rls, enable_tenant_rls

revision = "auth_0001"
down_revision = "core_0001"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "refresh_tokens",
    "otp_challenges",
    "password_reset_tokens",
    "trusted_devices",
    "api_keys",
    "families",
    "child_profiles",
)


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="RESTRICT",
    )


def _user_fk(table: str, column: str = "user_id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    # A system admin may sign in without a tenant: such sessions have no tenant.
    op.alter_column("auth_sessions", "tenant_id", existing_type=sa.Uuid(), nullable=True)

    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid()),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _ts("expires_at", nullable=False),
        _ts("used_at"),
        _ts("revoked_at"),
        sa.Column("replaced_by_id", sa.Uuid()),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        _tenant_fk("refresh_tokens"),
        _user_fk("refresh_tokens"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth_sessions.id"],
            name=op.f("fk_refresh_tokens_session_id_auth_sessions"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    op.create_index(op.f("ix_refresh_tokens_tenant_id"), "refresh_tokens", ["tenant_id"])
    op.create_index(op.f("ix_refresh_tokens_session_id"), "refresh_tokens", ["session_id"])

    op.create_table(
        "otp_challenges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("destination", sa.String(320), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Uuid()),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64)),
        sa.Column("device_id", sa.String(128)),
        sa.Column("platform", sa.String(32)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        _ts("expires_at", nullable=False),
        _ts("consumed_at"),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_challenges")),
        _tenant_fk("otp_challenges"),
        _user_fk("otp_challenges"),
        sa.UniqueConstraint("token_hash", name=op.f("uq_otp_challenges_token_hash")),
        sa.CheckConstraint("purpose IN ('login', 'mfa')", name=op.f("ck_otp_challenges_purpose")),
    )
    op.create_index(op.f("ix_otp_challenges_tenant_id"), "otp_challenges", ["tenant_id"])
    op.create_index(
        op.f("ix_otp_challenges_tenant_id_purpose_destination_created_at"),
        "otp_challenges",
        ["tenant_id", "purpose", "destination", "created_at"],
    )

    op.create_table(
        "password_reset_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _ts("expires_at", nullable=False),
        _ts("used_at"),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_tokens")),
        _tenant_fk("password_reset_tokens"),
        _user_fk("password_reset_tokens"),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_reset_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_password_reset_tokens_tenant_id"), "password_reset_tokens", ["tenant_id"]
    )
    op.create_index(op.f("ix_password_reset_tokens_user_id"), "password_reset_tokens", ["user_id"])

    op.create_table(
        "trusted_devices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("device_hash", sa.String(64), nullable=False),
        _ts("expires_at", nullable=False),
        _ts("last_used_at"),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trusted_devices")),
        _tenant_fk("trusted_devices"),
        _user_fk("trusted_devices"),
        sa.UniqueConstraint(
            "tenant_id",
            "user_id",
            "device_hash",
            name=op.f("uq_trusted_devices_tenant_id_user_id_device_hash"),
        ),
    )
    op.create_index(op.f("ix_trusted_devices_tenant_id"), "trusted_devices", ["tenant_id"])
    op.create_index(op.f("ix_trusted_devices_user_id"), "trusted_devices", ["user_id"])

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String(64)), nullable=False),
        sa.Column("created_by_user_id", sa.Uuid()),
        _ts("expires_at"),
        _ts("last_used_at"),
        _ts("revoked_at"),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        _tenant_fk("api_keys"),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_tenant_id"), "api_keys", ["tenant_id"])

    op.create_table(
        "families",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("owner_user_id", sa.Uuid(), nullable=False),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_families")),
        _tenant_fk("families"),
        _user_fk("families", "owner_user_id"),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_families_tenant_id_code")),
        sa.UniqueConstraint(
            "tenant_id", "owner_user_id", name=op.f("uq_families_tenant_id_owner_user_id")
        ),
    )
    op.create_index(op.f("ix_families_tenant_id"), "families", ["tenant_id"])

    op.create_table(
        "child_profiles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("parent_user_id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("pin_hash", sa.Text(), nullable=False),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_child_profiles")),
        _tenant_fk("child_profiles"),
        _user_fk("child_profiles"),
        _user_fk("child_profiles", "parent_user_id"),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["families.id"],
            name=op.f("fk_child_profiles_family_id_families"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("user_id", name=op.f("uq_child_profiles_user_id")),
        sa.UniqueConstraint(
            "family_id", "username", name=op.f("uq_child_profiles_family_id_username")
        ),
    )
    op.create_index(op.f("ix_child_profiles_tenant_id"), "child_profiles", ["tenant_id"])
    op.create_index(op.f("ix_child_profiles_family_id"), "child_profiles", ["family_id"])

    for table in TENANT_TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in TENANT_TABLES:
        disable_tenant_rls(table)
    for table in reversed(TENANT_TABLES):
        op.drop_table(table)
    op.execute("DELETE FROM auth_sessions WHERE tenant_id IS NULL")
    op.alter_column("auth_sessions", "tenant_id", existing_type=sa.Uuid(), nullable=False)
