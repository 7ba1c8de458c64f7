"""savings: org settings, members, M-Pesa callbacks, STK requests, deposits, daily stats

Revision ID: savings_0001
Revises: core_0001
Create Date: 2026-11-23 15:51:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ludus.core.kit.rls import disable_tenant_rls, enable_tenant_rls
from ludus.core.kit.settings import get_settings

revision = "savings_0001"
down_revision = "core_0001"
branch_labels = None
depends_on = None

TABLES = (
    "savings_orgs",
    "savings_members",
    "savings_mpesa_callbacks",
    "savings_stk_requests",
    "savings_deposits",
    "savings_daily_stats",
)


def _tenant(table: str) -> list[Any]:
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
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


def upgrade() -> None:
    op.create_table(
        "savings_orgs",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_tenant("savings_orgs"),
        sa.Column("branding", postgresql.JSONB(), nullable=False),
        sa.Column("logo_key", sa.String(200)),
        sa.Column("subscription_tier", sa.String(24), nullable=False),
        sa.Column("subscription_status", sa.String(24), nullable=False),
        sa.Column("mpesa_config_enc", sa.Text()),
        sa.Column("mpesa_shortcode", sa.String(20)),
        sa.Column("mpesa_environment", sa.String(16), nullable=False),
        sa.Column("callback_token_enc", sa.Text()),
        sa.Column("callback_allowed_ips", postgresql.ARRAY(sa.String(64)), nullable=False),
        sa.Column("clearing_account_id", sa.Uuid()),
        sa.Column("suspense_account_id", sa.Uuid()),
        sa.Column("drain_scheduled", sa.Boolean(), nullable=False, server_default=sa.false()),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_savings_orgs")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_savings_orgs_tenant_id")),
        sa.CheckConstraint(
            "subscription_tier IN ('free', 'basic', 'pro', 'enterprise')",
            name=op.f("ck_savings_orgs_tier"),
        ),
        sa.CheckConstraint(
            "subscription_status IN ('trial', 'active', 'past_due', 'cancelled')",
            name=op.f("ck_savings_orgs_sub_status"),
        ),
    )
    op.create_index(op.f("ix_savings_orgs_tenant_id"), "savings_orgs", ["tenant_id"])

    op.create_table(
        "savings_members",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_tenant("savings_members"),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("account_ref", sa.String(20), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("savings_account_id", sa.Uuid()),
        sa.Column("referred_by", sa.Uuid()),
        sa.Column("deactivated_at", sa.DateTime(timezone=True)),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_savings_members")),
        sa.UniqueConstraint("tenant_id", "phone", name=op.f("uq_savings_members_tenant_id_phone")),
        sa.UniqueConstraint(
            "tenant_id", "account_ref", name=op.f("uq_savings_members_tenant_id_account_ref")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'deactivated')", name=op.f("ck_savings_members_status")
        ),
        sa.CheckConstraint("role IN ('admin', 'member')", name=op.f("ck_savings_members_role")),
    )
    op.create_index(op.f("ix_savings_members_tenant_id"), "savings_members", ["tenant_id"])
    op.create_index(op.f("ix_savings_members_user_id"), "savings_members", ["user_id"])

    op.create_table(
        "savings_mpesa_callbacks",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_tenant("savings_mpesa_callbacks"),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("dedup_key", sa.String(64), nullable=False),
        sa.Column("raw_body", sa.LargeBinary(), nullable=False),
        sa.Column("source_ip", sa.String(64)),
        sa.Column("deliveries", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("processed_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_savings_mpesa_callbacks")),
        sa.UniqueConstraint(
            "tenant_id",
            "kind",
            "dedup_key",
            name=op.f("uq_savings_mpesa_callbacks_tenant_id_kind_dedup_key"),
        ),
        sa.CheckConstraint(
            "kind IN ('c2b_validation', 'c2b_confirmation', 'stk_result')",
            name=op.f("ck_savings_mpesa_callbacks_kind"),
        ),
    )
    op.create_index(
        op.f("ix_savings_mpesa_callbacks_tenant_id"), "savings_mpesa_callbacks", ["tenant_id"]
    )
    # The drain loop claims unprocessed callbacks oldest first.
    op.create_index(
        "ix_savings_mpesa_callbacks_pending",
        "savings_mpesa_callbacks",
        ["tenant_id", "received_at"],
        postgresql_where=sa.text("status = 'received'"),
    )

    op.create_table(
        "savings_stk_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_tenant("savings_stk_requests"),
        sa.Column("checkout_request_id", sa.String(64), nullable=False),
        sa.Column("merchant_request_id", sa.String(64)),
        sa.Column("member_id", sa.Uuid()),
        sa.Column("phone", sa.String(20)),
        sa.Column("amount", sa.BigInteger()),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("result_code", sa.Integer()),
        sa.Column("result_desc", sa.String(300)),
        sa.Column("receipt", sa.String(32)),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_savings_stk_requests")),
        sa.UniqueConstraint(
            "tenant_id",
            "checkout_request_id",
            name=op.f("uq_savings_stk_requests_tenant_id_checkout_request_id"),
        ),
    )
    op.create_index(
        op.f("ix_savings_stk_requests_tenant_id"), "savings_stk_requests", ["tenant_id"]
    )
    op.create_index(
        op.f("ix_savings_stk_requests_member_id"), "savings_stk_requests", ["member_id"]
    )

    op.create_table(
        "savings_deposits",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_tenant("savings_deposits"),
        sa.Column("receipt", sa.String(32), nullable=False),
        sa.Column("member_id", sa.Uuid()),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("msisdn", sa.String(64)),
        sa.Column("bill_ref", sa.String(64)),
        sa.Column("checkout_request_id", sa.String(64)),
        sa.Column("transacted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ledger_tx_id", sa.Uuid()),
        sa.Column("match_tx_id", sa.Uuid()),
        sa.Column("matched_by", sa.Uuid()),
        sa.Column("matched_at", sa.DateTime(timezone=True)),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_savings_deposits")),
        sa.UniqueConstraint(
            "tenant_id", "receipt", name=op.f("uq_savings_deposits_tenant_id_receipt")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_savings_deposits_positive")),
        sa.CheckConstraint(
            "status IN ('verified', 'suspense', 'matched')", name=op.f("ck_savings_deposits_status")
        ),
    )
    op.create_index(op.f("ix_savings_deposits_tenant_id"), "savings_deposits", ["tenant_id"])
    op.create_index(op.f("ix_savings_deposits_member_id"), "savings_deposits", ["member_id"])
    op.create_index(
        "ix_savings_deposits_member_time",
        "savings_deposits",
        ["tenant_id", "member_id", "transacted_at"],
    )

    op.create_table(
        "savings_daily_stats",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_tenant("savings_daily_stats"),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("new_members", sa.Integer(), nullable=False),
        sa.Column("active_savers", sa.Integer(), nullable=False),
        sa.Column("deposits", sa.Integer(), nullable=False),
        sa.Column("amount_saved", sa.BigInteger(), nullable=False),
        sa.Column("total_saved", sa.BigInteger(), nullable=False),
        sa.Column("engagement", postgresql.JSONB(), nullable=False),
        sa.Column(
            "computed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_savings_daily_stats")),
        sa.UniqueConstraint("tenant_id", "day", name=op.f("uq_savings_daily_stats_tenant_id_day")),
    )
    op.create_index(op.f("ix_savings_daily_stats_tenant_id"), "savings_daily_stats", ["tenant_id"])

    for table in TABLES:
        enable_tenant_rls(table)
    # Deposits are money records: the app may correct status/matching but never delete them.
    op.execute(
        f"REVOKE DELETE ON savings_deposits, savings_mpesa_callbacks FROM {get_settings().db_app_role}"
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        disable_tenant_rls(table)
        op.drop_table(table)
