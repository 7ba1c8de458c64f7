"""moneylife: games with engine state, §3.1 projections, tenant cards, sync log, anti-cheat
flags, head-to-head matches and month-end runs

Revision ID: moneylife_0001
Revises: core_0001
Create Date: 2026-11-23 16:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ludus.core.kit.rls import disable_tenant_rls, enable_tenant_rls
from ludus.core.kit.settings import get_settings

revision = "moneylife_0001"
down_revision = "core_0001"
branch_labels = None
depends_on = None

GAME_TABLES = (
    "moneylife_accounts",
    "moneylife_pending_cards",
    "moneylife_consequences",
    "moneylife_savings_goals",
    "moneylife_holdings",
    "moneylife_policies",
    "moneylife_budgets",
    "moneylife_monthly_reports",
    "moneylife_chi_history",
    "moneylife_sync_actions",
)
TENANT_TABLES = (
    "moneylife_games",
    "moneylife_content_revisions",
    "moneylife_decision_cards",
    "moneylife_transactions",
    *GAME_TABLES,
    "moneylife_cheat_flags",
    "moneylife_matches",
)
APPEND_ONLY = ("moneylife_transactions",)
BIG = sa.BigInteger()
INT = sa.Integer()


def _tenant(table: str) -> sa.Column:
    return sa.Column(
        "tenant_id",
        sa.Uuid(),
        sa.ForeignKey(
            "tenants.id", name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="RESTRICT"
        ),
        nullable=False,
    )


def _game(table: str) -> sa.Column:
    return sa.Column(
        "game_id",
        sa.Uuid(),
        sa.ForeignKey(
            "moneylife_games.id",
            name=op.f(f"fk_{table}_game_id_moneylife_games"),
            ondelete="CASCADE",
        ),
        nullable=False,
    )


def _ts(*names: str) -> list[sa.Column]:
    return [
        sa.Column(n, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)
        for n in names
    ]


def _cols(spec: str) -> list[sa.Column]:
    """'name:type[?]' words; '?' marks nullable. Types: int big str<n> date bool json text."""
    out = []
    for word in spec.split():
        name, kind = word.split(":")
        nullable = kind.endswith("?")
        kind = kind.rstrip("?")
        typ: sa.types.TypeEngine[Any]
        if kind == "int":
            typ = INT
        elif kind == "big":
            typ = BIG
        elif kind.startswith("str"):
            typ = sa.String(int(kind[3:]))
        elif kind == "date":
            typ = sa.Date()
        elif kind == "bool":
            typ = sa.Boolean()
        elif kind == "json":
            typ = postgresql.JSONB()
        elif kind == "text":
            typ = sa.Text()
        elif kind == "uuid":
            typ = sa.Uuid()
        elif kind == "tstz":
            typ = sa.DateTime(timezone=True)
        else:
            raise ValueError(kind)
        out.append(sa.Column(name, typ, nullable=nullable))
    return out


def _projection(table: str, keys: tuple[str, ...], spec: str) -> None:
    key_cols = [c for c in _cols(spec) if c.name in keys]
    op.create_table(
        table,
        _tenant(table),
        _game(table),
        *key_cols,
        *[c for c in _cols(spec) if c.name not in keys],
        sa.PrimaryKeyConstraint("game_id", *keys, name=op.f(f"pk_{table}")),
    )


def upgrade() -> None:
    op.create_table(
        "moneylife_games",
        sa.Column("id", sa.Uuid(), nullable=False),
        _tenant("moneylife_games"),
        sa.Column(
            "user_id",
            sa.Uuid(),
            sa.ForeignKey(
                "users.id", name=op.f("fk_moneylife_games_user_id_users"), ondelete="RESTRICT"
            ),
            nullable=False,
        ),
        *_cols(
            "persona:str16 difficulty:str8 currency_code:str3 content_version:str16"
            " start_date:date current_game_date:date month_end_due:bool current_level:int"
            " total_xp:big level_xp:big total_coins:big happiness:int streak_current:int"
            " streak_longest:int streak_last_action_date:date? chi_score:int"
            " chi_payment_history:int chi_utilization:int chi_credit_age:int chi_credit_mix:int"
            " chi_new_inquiries:int budget_score:int net_worth:big monthly_income:big"
            " inflation_ppm:big bankruptcy_count:int bankruptcy_active:bool"
            " bankruptcy_end_date:date? state_version:big random_seed:big status:str16"
            " state:text state_checksum:str64 match_id:uuid? last_device_id:str128?"
            " last_device_at:tstz? last_played_at:tstz? xp_reported:big coins_reported:big"
        ),
        sa.Column("ppp_factor", sa.Numeric(12, 4), nullable=False),
        sa.Column(
            "recent_decisions",
            postgresql.ARRAY(sa.BigInteger()),
            nullable=False,
            server_default="{}",
        ),
        sa.Column(
            "recent_advances",
            postgresql.ARRAY(sa.BigInteger()),
            nullable=False,
            server_default="{}",
        ),
        *_ts("created_at", "updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moneylife_games")),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'completed')", name=op.f("ck_moneylife_games_status")
        ),
        sa.CheckConstraint("chi_score BETWEEN 300 AND 850", name=op.f("ck_moneylife_games_chi")),
    )
    op.create_index(op.f("ix_moneylife_games_tenant_id"), "moneylife_games", ["tenant_id"])
    op.create_index(op.f("ix_moneylife_games_user_id"), "moneylife_games", ["user_id"])
    op.create_index(
        op.f("ix_moneylife_games_month_end_due"),
        "moneylife_games",
        ["id"],
        postgresql_where=sa.text("month_end_due AND status = 'active'"),
    )

    op.create_table(
        "moneylife_content_revisions",
        _tenant("moneylife_content_revisions"),
        sa.Column("revision", BIG, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_moneylife_content_revisions")),
    )
    op.create_table(
        "moneylife_decision_cards",
        _tenant("moneylife_decision_cards"),
        *_cols(
            "id:str64 category:str32 title:str200 definition:json sponsor:str120? is_active:bool"
        ),
        *_ts("created_at", "updated_at"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_moneylife_decision_cards")),
    )

    op.create_table(
        "moneylife_transactions",
        sa.Column("id", BIG, sa.Identity(always=False), nullable=False),
        _tenant("moneylife_transactions"),
        _game("moneylife_transactions"),
        *_cols(
            "account_id:str32 game_date:date type:str24 category:str24 amount:big"
            " balance_after:big description:str200 card_id:str64? is_automated:bool"
            " state_version:big"
        ),
        *_ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moneylife_transactions")),
    )
    op.create_index(
        op.f("ix_moneylife_transactions_game_id_game_date_id"),
        "moneylife_transactions",
        ["game_id", "game_date", "id"],
    )

    _projection(
        "moneylife_accounts",
        ("id",),
        "id:str32 type:str24 balance:big credit_limit:big? interest_rate_bp:int principal:big?"
        " monthly_payment:big? term_months:int? months_paid:int? auto_pay_setting:str8"
        " status:str16 opened_game_date:date consecutive_missed_payments:int"
        " pending_interest:big withdrawal_count_this_month:int details:json",
    )
    _projection(
        "moneylife_pending_cards",
        ("id",),
        "id:str32 card_id:str64 presented_game_date:date expires_game_date:date"
        " selected_option_id:str64? resolved_at:tstz? xp_awarded:int? coins_awarded:int?"
        " status:str16 created_at:tstz",
    )
    op.create_index(
        op.f("ix_moneylife_pending_cards_card_id"), "moneylife_pending_cards", ["card_id"]
    )
    _projection(
        "moneylife_consequences",
        ("id",),
        "id:str32 trigger_card_id:str64 trigger_option_id:str64 earliest_trigger_date:date"
        " latest_trigger_date:date probability_ppm:int status:str16",
    )
    _projection(
        "moneylife_savings_goals",
        ("id",),
        "id:str32 account_id:str32 name:str120 target_amount:big current_amount:big"
        " deadline_game_date:date? status:str16",
    )
    _projection(
        "moneylife_holdings",
        ("account_id", "asset_type"),
        "account_id:str32 asset_type:str24 cost_basis:big current_value:big drip_enabled:bool",
    )
    _projection(
        "moneylife_policies",
        ("id",),
        "id:str32 type:str16 monthly_premium:big deductible:big coverage_bp:int"
        " payout_amount:big claims_filed:int status:str16 premium_increase_bp:int"
        " started_game_date:date lapsed_game_date:date?",
    )
    _projection(
        "moneylife_budgets",
        ("game_month",),
        "game_month:date allocations:json actuals:json score:int? updated_at:tstz",
    )
    _projection(
        "moneylife_monthly_reports",
        ("game_month",),
        "game_month:date income_total:big expense_total:big savings_change:big"
        " investment_change:big debt_change:big net_worth:big chi_score:int budget_score:int"
        " xp_earned:int coins_earned:int highlights:json report:json created_at:tstz",
    )
    _projection(
        "moneylife_chi_history", ("game_month",), "game_month:date score:int breakdown:json"
    )
    _projection(
        "moneylife_sync_actions",
        ("device_id", "sequence_number"),
        "device_id:str128 sequence_number:big checksum:str64 action_type:str32 status:str16"
        " reason:str32? resolution:str24? processed_at:tstz",
    )
    op.create_index(
        op.f("ix_moneylife_sync_actions_game_id_checksum"),
        "moneylife_sync_actions",
        ["game_id", "checksum"],
    )
    for table, column in (
        ("moneylife_pending_cards", "created_at"),
        ("moneylife_budgets", "updated_at"),
        ("moneylife_monthly_reports", "created_at"),
        ("moneylife_sync_actions", "processed_at"),
    ):
        op.alter_column(table, column, server_default=sa.func.now())

    op.create_table(
        "moneylife_cheat_flags",
        sa.Column("id", sa.Uuid(), nullable=False),
        _tenant("moneylife_cheat_flags"),
        _game("moneylife_cheat_flags"),
        *_cols(
            "user_id:uuid kind:str32 window:str32 details:json status:str16 reviewed_by:uuid?"
            " reviewed_at:tstz?"
        ),
        *_ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moneylife_cheat_flags")),
        sa.UniqueConstraint(
            "game_id", "kind", "window", name=op.f("uq_moneylife_cheat_flags_game_id_kind_window")
        ),
    )
    op.create_index(
        op.f("ix_moneylife_cheat_flags_tenant_id"), "moneylife_cheat_flags", ["tenant_id", "status"]
    )
    op.create_index(op.f("ix_moneylife_cheat_flags_user_id"), "moneylife_cheat_flags", ["user_id"])

    op.create_table(
        "moneylife_matches",
        sa.Column("id", sa.Uuid(), nullable=False),
        _tenant("moneylife_matches"),
        *_cols(
            "challenge_id:uuid? seed:big player_a:uuid player_b:uuid game_a:uuid game_b:uuid"
            " days:int"
        ),
        *_ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moneylife_matches")),
    )
    op.create_index(op.f("ix_moneylife_matches_tenant_id"), "moneylife_matches", ["tenant_id"])

    op.create_table(
        "moneylife_month_end_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_cols("status:str16 total_games:int batch_size:int finished_at:tstz?"),
        *_ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moneylife_month_end_runs")),
    )
    op.create_table(
        "moneylife_month_end_batches",
        sa.Column(
            "run_id",
            sa.Uuid(),
            sa.ForeignKey(
                "moneylife_month_end_runs.id",
                name=op.f("fk_moneylife_month_end_batches_run_id_moneylife_month_end_runs"),
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("batch_no", INT, nullable=False),
        sa.Column("game_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("versions", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        *_cols("status:str16 processed:int skipped:int finished_at:tstz?"),
        sa.PrimaryKeyConstraint("run_id", "batch_no", name=op.f("pk_moneylife_month_end_batches")),
    )

    for table in TENANT_TABLES:
        enable_tenant_rls(table)
    role = get_settings().db_app_role
    for table in APPEND_ONLY:
        op.execute(f"REVOKE UPDATE, DELETE ON {table} FROM {role}")


def downgrade() -> None:
    for table in TENANT_TABLES:
        disable_tenant_rls(table)
    for table in (
        "moneylife_month_end_batches",
        "moneylife_month_end_runs",
        "moneylife_matches",
        "moneylife_cheat_flags",
        *reversed(GAME_TABLES),
        "moneylife_transactions",
        "moneylife_decision_cards",
        "moneylife_content_revisions",
        "moneylife_games",
    ):
        op.drop_table(table)
