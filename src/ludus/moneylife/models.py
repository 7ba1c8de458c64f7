"""MoneyLife tables (spec 000 §3.1), all money as BIGINT minor units (CU cents).

`moneylife_games` holds the authoritative engine state (canonical JSON + checksum) and the
§3.1 columns; the other tables are projections written from engine state and events after
each action, so read endpoints are plain queries. Projection rows are keyed by the game and
the engine's own ids ("acc-3", "ci-17", ...).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from ludus.core.kit.models import Base, IdMixin, TenantMixin, TimestampMixin

_GAME_FK = "moneylife_games.id"


class TenantCol:
    """tenant_id without its own index: projections are always reached through the game."""

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:  # noqa: N805
        return mapped_column(Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), nullable=False)


def table_of(model: type[Base]) -> Table:
    """The Core table of a model (typed for Core statements)."""
    return cast(Table, model.__table__)


def _game_id() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, ForeignKey(_GAME_FK, ondelete="CASCADE"), primary_key=True)


class Game(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "moneylife_games"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    persona: Mapped[str] = mapped_column(String(16), nullable=False)
    difficulty: Mapped[str] = mapped_column(String(8), nullable=False)
    currency_code: Mapped[str] = mapped_column(String(3), nullable=False)
    ppp_factor: Mapped[Decimal] = mapped_column(Numeric(12, 4), nullable=False)
    content_version: Mapped[str] = mapped_column(String(16), nullable=False)
    start_date: Mapped[date] = mapped_column(Date, nullable=False)
    current_game_date: Mapped[date] = mapped_column(Date, nullable=False)
    month_end_due: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    current_level: Mapped[int] = mapped_column(Integer, nullable=False)
    total_xp: Mapped[int] = mapped_column(BigInteger, nullable=False)
    level_xp: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total_coins: Mapped[int] = mapped_column(BigInteger, nullable=False)
    happiness: Mapped[int] = mapped_column(Integer, nullable=False)
    streak_current: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    streak_longest: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    streak_last_action_date: Mapped[date | None] = mapped_column(Date)
    chi_score: Mapped[int] = mapped_column(Integer, nullable=False)
    chi_payment_history: Mapped[int] = mapped_column(Integer, nullable=False)
    chi_utilization: Mapped[int] = mapped_column(Integer, nullable=False)
    chi_credit_age: Mapped[int] = mapped_column(Integer, nullable=False)
    chi_credit_mix: Mapped[int] = mapped_column(Integer, nullable=False)
    chi_new_inquiries: Mapped[int] = mapped_column(Integer, nullable=False)
    budget_score: Mapped[int] = mapped_column(Integer, nullable=False)
    net_worth: Mapped[int] = mapped_column(BigInteger, nullable=False)
    monthly_income: Mapped[int] = mapped_column(BigInteger, nullable=False)
    inflation_ppm: Mapped[int] = mapped_column(BigInteger, nullable=False)
    bankruptcy_count: Mapped[int] = mapped_column(Integer, nullable=False)
    bankruptcy_active: Mapped[bool] = mapped_column(Boolean, nullable=False)
    bankruptcy_end_date: Mapped[date | None] = mapped_column(Date)
    state_version: Mapped[int] = mapped_column(BigInteger, nullable=False)
    random_seed: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    state: Mapped[str] = mapped_column(Text, nullable=False)
    state_checksum: Mapped[str] = mapped_column(String(64), nullable=False)
    match_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Anti-cheat bookkeeping: epoch ms of the last card decisions, last device seen.
    recent_decisions: Mapped[list[int]] = mapped_column(
        ARRAY(BigInteger), nullable=False, default=list
    )
    recent_advances: Mapped[list[int]] = mapped_column(
        ARRAY(BigInteger), nullable=False, default=list
    )
    # Game XP and coins already mirrored to the engagement kit through events.
    xp_reported: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    coins_reported: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    last_device_id: Mapped[str | None] = mapped_column(String(128))
    last_device_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_played_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ContentRevision(Base):
    """Bumped whenever a tenant edits its cards, so cached decks are rebuilt."""

    __tablename__ = "moneylife_content_revisions"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    revision: Mapped[int] = mapped_column(BigInteger, nullable=False, default=1)


class DecisionCard(TimestampMixin, Base):
    """A tenant's own or sponsored card, or an override that deactivates a built-in card."""

    __tablename__ = "moneylife_decision_cards"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(32), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    sponsor: Mapped[str | None] = mapped_column(String(120))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class GameAccount(TenantCol, Base):
    __tablename__ = "moneylife_accounts"

    game_id: Mapped[uuid.UUID] = _game_id()
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    type: Mapped[str] = mapped_column(String(24), nullable=False)
    balance: Mapped[int] = mapped_column(BigInteger, nullable=False)
    credit_limit: Mapped[int | None] = mapped_column(BigInteger)
    interest_rate_bp: Mapped[int] = mapped_column(Integer, nullable=False)
    principal: Mapped[int | None] = mapped_column(BigInteger)
    monthly_payment: Mapped[int | None] = mapped_column(BigInteger)
    term_months: Mapped[int | None] = mapped_column(Integer)
    months_paid: Mapped[int | None] = mapped_column(Integer)
    auto_pay_setting: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    opened_game_date: Mapped[date] = mapped_column(Date, nullable=False)
    consecutive_missed_payments: Mapped[int] = mapped_column(Integer, nullable=False)
    pending_interest: Mapped[int] = mapped_column(BigInteger, nullable=False)
    withdrawal_count_this_month: Mapped[int] = mapped_column(Integer, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)


class GameTransaction(TenantCol, Base):
    __tablename__ = "moneylife_transactions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    game_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey(_GAME_FK, ondelete="CASCADE"), nullable=False
    )
    account_id: Mapped[str] = mapped_column(String(32), nullable=False)
    game_date: Mapped[date] = mapped_column(Date, nullable=False)
    type: Mapped[str] = mapped_column(String(24), nullable=False)
    category: Mapped[str] = mapped_column(String(24), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    balance_after: Mapped[int] = mapped_column(BigInteger, nullable=False)
    description: Mapped[str] = mapped_column(String(200), nullable=False)
    card_id: Mapped[str | None] = mapped_column(String(64))
    is_automated: Mapped[bool] = mapped_column(Boolean, nullable=False)
    state_version: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class PendingCardRow(TenantCol, Base):
    __tablename__ = "moneylife_pending_cards"

    game_id: Mapped[uuid.UUID] = _game_id()
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    card_id: Mapped[str] = mapped_column(String(64), nullable=False)
    presented_game_date: Mapped[date] = mapped_column(Date, nullable=False)
    expires_game_date: Mapped[date] = mapped_column(Date, nullable=False)
    selected_option_id: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    xp_awarded: Mapped[int | None] = mapped_column(Integer)
    coins_awarded: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class Consequence(TenantCol, Base):
    __tablename__ = "moneylife_consequences"

    game_id: Mapped[uuid.UUID] = _game_id()
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    trigger_card_id: Mapped[str] = mapped_column(String(64), nullable=False)
    trigger_option_id: Mapped[str] = mapped_column(String(64), nullable=False)
    earliest_trigger_date: Mapped[date] = mapped_column(Date, nullable=False)
    latest_trigger_date: Mapped[date] = mapped_column(Date, nullable=False)
    probability_ppm: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)


class SavingsGoal(TenantCol, Base):
    __tablename__ = "moneylife_savings_goals"

    game_id: Mapped[uuid.UUID] = _game_id()
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    target_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    current_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    deadline_game_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), nullable=False)


class Holding(TenantCol, Base):
    __tablename__ = "moneylife_holdings"

    game_id: Mapped[uuid.UUID] = _game_id()
    account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    asset_type: Mapped[str] = mapped_column(String(24), primary_key=True)
    cost_basis: Mapped[int] = mapped_column(BigInteger, nullable=False)
    current_value: Mapped[int] = mapped_column(BigInteger, nullable=False)
    drip_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)


class InsurancePolicy(TenantCol, Base):
    __tablename__ = "moneylife_policies"

    game_id: Mapped[uuid.UUID] = _game_id()
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    monthly_premium: Mapped[int] = mapped_column(BigInteger, nullable=False)
    deductible: Mapped[int] = mapped_column(BigInteger, nullable=False)
    coverage_bp: Mapped[int] = mapped_column(Integer, nullable=False)
    payout_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    claims_filed: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    premium_increase_bp: Mapped[int] = mapped_column(Integer, nullable=False)
    started_game_date: Mapped[date] = mapped_column(Date, nullable=False)
    lapsed_game_date: Mapped[date | None] = mapped_column(Date)


class Budget(TenantCol, Base):
    __tablename__ = "moneylife_budgets"

    game_id: Mapped[uuid.UUID] = _game_id()
    game_month: Mapped[date] = mapped_column(Date, primary_key=True)
    allocations: Mapped[dict[str, int]] = mapped_column(JSONB, nullable=False)
    actuals: Mapped[dict[str, int]] = mapped_column(JSONB, nullable=False)
    score: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class MonthlyReport(TenantCol, Base):
    __tablename__ = "moneylife_monthly_reports"

    game_id: Mapped[uuid.UUID] = _game_id()
    game_month: Mapped[date] = mapped_column(Date, primary_key=True)
    income_total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    expense_total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    savings_change: Mapped[int] = mapped_column(BigInteger, nullable=False)
    investment_change: Mapped[int] = mapped_column(BigInteger, nullable=False)
    debt_change: Mapped[int] = mapped_column(BigInteger, nullable=False)
    net_worth: Mapped[int] = mapped_column(BigInteger, nullable=False)
    chi_score: Mapped[int] = mapped_column(Integer, nullable=False)
    budget_score: Mapped[int] = mapped_column(Integer, nullable=False)
    xp_earned: Mapped[int] = mapped_column(Integer, nullable=False)
    coins_earned: Mapped[int] = mapped_column(Integer, nullable=False)
    highlights: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class ChiHistory(TenantCol, Base):
    __tablename__ = "moneylife_chi_history"

    game_id: Mapped[uuid.UUID] = _game_id()
    game_month: Mapped[date] = mapped_column(Date, primary_key=True)
    score: Mapped[int] = mapped_column(Integer, nullable=False)
    breakdown: Mapped[dict[str, int]] = mapped_column(JSONB, nullable=False)


class SyncAction(TenantCol, Base):
    """An offline action the sync endpoint has processed (duplicates are found here)."""

    __tablename__ = "moneylife_sync_actions"

    game_id: Mapped[uuid.UUID] = _game_id()
    device_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    sequence_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    checksum: Mapped[str] = mapped_column(String(64), nullable=False)
    action_type: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(32))
    resolution: Mapped[str | None] = mapped_column(String(24))
    processed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class CheatFlag(IdMixin, TenantMixin, Base):
    __tablename__ = "moneylife_cheat_flags"

    game_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey(_GAME_FK, ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    window: Mapped[str] = mapped_column(String(32), nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class Match(IdMixin, TenantMixin, Base):
    """Head-to-head: two games sharing one seed, so both players get the same card draws."""

    __tablename__ = "moneylife_matches"

    challenge_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    seed: Mapped[int] = mapped_column(BigInteger, nullable=False)
    player_a: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    player_b: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    game_a: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    game_b: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    days: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class MonthEndRun(IdMixin, Base):
    """A platform-wide month-end pass (system rows, not tenant data)."""

    __tablename__ = "moneylife_month_end_runs"

    status: Mapped[str] = mapped_column(String(16), nullable=False)
    total_games: Mapped[int] = mapped_column(Integer, nullable=False)
    batch_size: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MonthEndBatch(Base):
    """One batch of a run: the games and the state versions they had when planned."""

    __tablename__ = "moneylife_month_end_batches"

    run_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("moneylife_month_end_runs.id", ondelete="CASCADE"), primary_key=True
    )
    batch_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    game_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), nullable=False)
    versions: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    processed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    skipped: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
