"""paya: profiles, bank links, movements, payments, flags, revenue, distributions, payouts,
reserve snapshots

Revision ID: paya_0001
Revises: core_0001
Create Date: 2026-11-23 15:50:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ludus.core.kit.rls import disable_tenant_rls, enable_tenant_rls
from ludus.core.kit.settings import get_settings

revision = "paya_0001"
down_revision = "core_0001"
branch_labels = None
depends_on = None

TABLES = (
    "paya_profiles",
    "paya_bank_links",
    "paya_movements",
    "paya_payments",
    "paya_flags",
    "paya_revenue",
    "paya_distributions",
    "paya_payouts",
    "paya_reserve_snapshots",
)
APPEND_ONLY = ("paya_payments", "paya_revenue", "paya_reserve_snapshots")


def _id() -> sa.Column:
    return sa.Column("id", sa.Uuid(), nullable=False)


def _tenant(table: str) -> list[Any]:
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
    ]  # fmt: skip


def _now(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "paya_profiles",
        _id(),
        *_tenant("paya_profiles"),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(20), nullable=False),
        sa.Column("username_key", sa.String(20), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("bio", sa.String(160)),
        sa.Column("wallet_account_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("frozen_reason", sa.String(500)),
        sa.Column("ineligible_until", sa.Date()),
        sa.Column("dwolla_customer_id", sa.String(128)),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paya_profiles")),
        sa.UniqueConstraint(
            "tenant_id", "user_id", name=op.f("uq_paya_profiles_tenant_id_user_id")
        ),
        sa.UniqueConstraint(
            "tenant_id", "username_key", name=op.f("uq_paya_profiles_tenant_id_username_key")
        ),
        sa.CheckConstraint("status IN ('active', 'frozen')", name=op.f("ck_paya_profiles_status")),
        sa.CheckConstraint(
            "username_key = lower(username)", name=op.f("ck_paya_profiles_key_lower")
        ),
    )
    op.create_index(op.f("ix_paya_profiles_tenant_id"), "paya_profiles", ["tenant_id"])
    op.execute(
        "CREATE INDEX ix_paya_profiles_username_prefix ON paya_profiles "
        "(tenant_id, username_key text_pattern_ops)"
    )

    op.create_table(
        "paya_bank_links",
        _id(),
        *_tenant("paya_bank_links"),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.String(128), nullable=False),
        sa.Column("access_token_enc", sa.Text(), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("account_name", sa.String(200), nullable=False),
        sa.Column("mask", sa.String(8), nullable=False),
        sa.Column("owner_names", postgresql.JSONB(), nullable=False),
        sa.Column("funding_source_id", sa.String(128)),
        sa.Column("status", sa.String(32), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paya_bank_links")),
    )
    op.create_index(op.f("ix_paya_bank_links_tenant_id"), "paya_bank_links", ["tenant_id"])
    op.create_index(op.f("ix_paya_bank_links_user_id"), "paya_bank_links", ["user_id"])

    op.create_table(
        "paya_movements",
        _id(),
        *_tenant("paya_movements"),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("bank_link_id", sa.Uuid(), nullable=False),
        sa.Column("provider_transfer_id", sa.String(128)),
        sa.Column("hold_id", sa.Uuid()),
        sa.Column("lock_tx_id", sa.Uuid()),
        sa.Column("ledger_tx_id", sa.Uuid()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.String(500)),
        sa.Column("idempotency_key", sa.String(255)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paya_movements")),
        sa.ForeignKeyConstraint(
            ["bank_link_id"], ["paya_bank_links.id"],
            name=op.f("fk_paya_movements_bank_link_id_paya_bank_links"), ondelete="RESTRICT",
        ),
        sa.UniqueConstraint(
            "tenant_id", "user_id", "idempotency_key",
            name=op.f("uq_paya_movements_tenant_id_user_id_idempotency_key"),
        ),
        sa.UniqueConstraint(
            "provider_transfer_id", name=op.f("uq_paya_movements_provider_transfer_id")
        ),
        sa.CheckConstraint("kind IN ('load', 'redeem')", name=op.f("ck_paya_movements_kind")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_paya_movements_amount_positive")),
        sa.CheckConstraint(
            "status IN ('queued', 'pending', 'settled', 'returned', 'failed')",
            name=op.f("ck_paya_movements_status"),
        ),
    )  # fmt: skip
    op.create_index(op.f("ix_paya_movements_tenant_id"), "paya_movements", ["tenant_id"])
    op.create_index(
        "ix_paya_movements_status_next", "paya_movements", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_paya_movements_tenant_id_user_id_created_at",
        "paya_movements",
        ["tenant_id", "user_id", "created_at"],
    )

    op.create_table(
        "paya_payments",
        _id(),
        *_tenant("paya_payments"),
        sa.Column("sender_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("sender_username", sa.String(20), nullable=False),
        sa.Column("recipient_username", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("memo", sa.String(280), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("ledger_tx_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(255)),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paya_payments")),
        sa.UniqueConstraint(
            "tenant_id", "sender_id", "idempotency_key",
            name=op.f("uq_paya_payments_tenant_id_sender_id_idempotency_key"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_paya_payments_amount_positive")),
        sa.CheckConstraint("sender_id <> recipient_id", name=op.f("ck_paya_payments_not_self")),
    )  # fmt: skip
    op.create_index(op.f("ix_paya_payments_tenant_id"), "paya_payments", ["tenant_id"])
    op.create_index(
        "ix_paya_payments_tenant_id_sender_id_created_at",
        "paya_payments",
        ["tenant_id", "sender_id", "created_at"],
    )
    op.create_index(
        "ix_paya_payments_tenant_id_recipient_id_created_at",
        "paya_payments",
        ["tenant_id", "recipient_id", "created_at"],
    )
    op.create_index(
        "ix_paya_payments_public_feed",
        "paya_payments",
        ["tenant_id", "created_at"],
        postgresql_where=sa.text("public"),
    )

    op.create_table(
        "paya_flags",
        _id(),
        *_tenant("paya_flags"),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("details", postgresql.JSONB(), nullable=False),
        _now("created_at"),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_by", sa.Uuid()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paya_flags")),
        sa.CheckConstraint("source IN ('rule', 'admin')", name=op.f("ck_paya_flags_source")),
    )
    op.create_index(op.f("ix_paya_flags_tenant_id"), "paya_flags", ["tenant_id"])
    op.create_index(op.f("ix_paya_flags_user_id"), "paya_flags", ["user_id"])
    op.create_index(
        "uq_paya_flags_open_rule",
        "paya_flags",
        ["tenant_id", "user_id", "rule"],
        unique=True,
        postgresql_where=sa.text("resolved_at IS NULL AND source = 'rule'"),
    )

    op.create_table(
        "paya_revenue",
        _id(),
        *_tenant("paya_revenue"),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("ledger_tx_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paya_revenue")),
        sa.UniqueConstraint(
            "tenant_id", "idempotency_key", name=op.f("uq_paya_revenue_tenant_id_idempotency_key")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_paya_revenue_amount_positive")),
    )
    op.create_index(op.f("ix_paya_revenue_tenant_id"), "paya_revenue", ["tenant_id"])
    op.create_index(op.f("ix_paya_revenue_week_start"), "paya_revenue", ["week_start"])

    op.create_table(
        "paya_distributions",
        _id(),
        *_tenant("paya_distributions"),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("carry_in", sa.BigInteger(), nullable=False),
        sa.Column("pool", sa.BigInteger(), nullable=False),
        sa.Column("ops_amount", sa.BigInteger(), nullable=False),
        sa.Column("share", sa.BigInteger(), nullable=False),
        sa.Column("eligible_count", sa.Integer(), nullable=False),
        sa.Column("remainder", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ops_tx_id", sa.Uuid()),
        _now("created_at"),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paya_distributions")),
        sa.UniqueConstraint(
            "tenant_id", "week_start", name=op.f("uq_paya_distributions_tenant_id_week_start")
        ),
        sa.CheckConstraint(
            "pool = ops_amount + share * eligible_count + remainder",
            name=op.f("ck_paya_distributions_pool_split"),
        ),
    )
    op.create_index(op.f("ix_paya_distributions_tenant_id"), "paya_distributions", ["tenant_id"])

    op.create_table(
        "paya_payouts",
        _id(),
        *_tenant("paya_payouts"),
        sa.Column("distribution_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("ledger_tx_id", sa.Uuid()),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paya_payouts")),
        sa.ForeignKeyConstraint(
            ["distribution_id"], ["paya_distributions.id"],
            name=op.f("fk_paya_payouts_distribution_id_paya_distributions"), ondelete="RESTRICT",
        ),
        sa.UniqueConstraint(
            "distribution_id", "user_id", name=op.f("uq_paya_payouts_distribution_id_user_id")
        ),
    )  # fmt: skip
    op.create_index(op.f("ix_paya_payouts_tenant_id"), "paya_payouts", ["tenant_id"])
    op.create_index(op.f("ix_paya_payouts_user_id"), "paya_payouts", ["user_id"])

    op.create_table(
        "paya_reserve_snapshots",
        _id(),
        *_tenant("paya_reserve_snapshots"),
        _now("taken_at"),
        sa.Column("reserve", sa.BigInteger(), nullable=False),
        sa.Column("circulation", sa.BigInteger(), nullable=False),
        sa.Column("bank_balance", sa.BigInteger(), nullable=False),
        sa.Column("pending_loads", sa.BigInteger(), nullable=False),
        sa.Column("active_users", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.Column("details", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paya_reserve_snapshots")),
    )
    op.create_index(
        op.f("ix_paya_reserve_snapshots_tenant_id"), "paya_reserve_snapshots", ["tenant_id"]
    )

    for table in TABLES:
        enable_tenant_rls(table)
    role = get_settings().db_app_role
    for table in APPEND_ONLY:
        op.execute(f"REVOKE UPDATE, DELETE ON {table} FROM {role}")


def downgrade() -> None:
    for table in reversed(TABLES):
        disable_tenant_rls(table)
        op.drop_table(table)
