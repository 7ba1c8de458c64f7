"""Request and response bodies (spec 000 §4.2, §4.7). Money is integer minor units of CU
(the game's internal currency; multiply by `ppp_factor` for display)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from ludus.core.kit.schemas import InputSchema, Schema

Persona = Literal["teen", "student", "young_adult", "parent"]
Difficulty = Literal["easy", "normal", "hard"]
Version = Field(ge=0)
Cents = Field(gt=0, le=10**12)


class CreateGameIn(InputSchema):
    persona: Persona
    difficulty: Difficulty = "normal"
    currency_code: str = Field("USD", pattern=r"^[A-Z]{3}$")


class OptionView(BaseModel):
    option_id: str
    label: str
    cost: int
    gain: int
    pay_from: str
    category: str


class CardView(BaseModel):
    card_instance_id: str
    card_id: str
    title: str
    description: str
    category: str
    sponsored: bool = False
    presented_game_date: date
    expires_game_date: date
    options: list[OptionView]


class GameView(BaseModel):
    game_id: uuid.UUID
    persona: str
    difficulty: str
    currency_code: str
    ppp_factor: Decimal
    status: str
    current_game_date: date
    state_version: int
    state_checksum: str
    state: dict[str, Any]


class CreateGameOut(BaseModel):
    game_id: uuid.UUID
    initial_state: GameView


class Balance(BaseModel):
    account_id: str
    type: str
    balance: int


class Bill(BaseModel):
    name: str
    category: str
    amount: int
    due_game_date: date


class SummaryOut(BaseModel):
    game_id: uuid.UUID
    current_game_date: date
    state_version: int
    balances: list[Balance]
    net_worth: int
    chi: int
    level: int
    xp: int
    level_xp: int
    coins: int
    happiness: int
    budget_score: int
    streak: int
    next_bills: list[Bill]
    pending_cards: list[CardView]


class AdvanceIn(InputSchema):
    current_game_date: date
    state_version: int = Version


class AdvanceOut(BaseModel):
    new_game_date: date
    events: list[dict[str, Any]]
    new_cards: list[CardView]
    state_version: int


class CardDecisionIn(InputSchema):
    card_instance_id: str = Field(min_length=1, max_length=32)
    selected_option_id: str = Field(min_length=1, max_length=64)
    state_version: int = Version


class BalanceChange(BaseModel):
    account_id: str
    amount: int
    balance_after: int


class Consequences(BaseModel):
    balance_changes: list[BalanceChange]
    xp: int
    coins: int
    happiness: int
    narrative: str
    follow_ups: int


class CardDecisionOut(BaseModel):
    consequences: Consequences
    state_version: int


class AccountOut(Schema):
    id: str
    type: str
    balance: int
    credit_limit: int | None
    interest_rate_bp: int
    principal: int | None
    monthly_payment: int | None
    term_months: int | None
    months_paid: int | None
    auto_pay_setting: str
    status: str
    opened_game_date: date
    consecutive_missed_payments: int
    withdrawal_count_this_month: int
    details: dict[str, Any]


class AccountsOut(BaseModel):
    accounts: list[AccountOut]


class TransferIn(InputSchema):
    to_account_id: str = Field(min_length=1, max_length=32)
    amount: int = Cents
    state_version: int = Version


class TransferOut(BaseModel):
    from_balance: int
    to_balance: int
    state_version: int


class TransactionOut(Schema):
    id: int
    account_id: str
    game_date: date
    type: str
    category: str
    amount: int
    balance_after: int
    description: str
    card_id: str | None
    is_automated: bool


class BudgetIn(InputSchema):
    allocations: dict[str, int]
    state_version: int | None = Field(None, ge=0)


class BudgetOut(BaseModel):
    budget_id: str
    game_month: date
    allocations: dict[str, int]
    state_version: int


class BudgetCurrentOut(BaseModel):
    game_month: date
    allocations: dict[str, int]
    actuals: dict[str, int]
    score: int


class ReportSummary(Schema):
    game_month: date
    income_total: int
    expense_total: int
    net_worth: int
    chi_score: int
    budget_score: int
    xp_earned: int
    coins_earned: int


class ReportOut(ReportSummary):
    savings_change: int
    investment_change: int
    debt_change: int
    highlights: list[str]
    report: dict[str, Any]


class ReportsOut(BaseModel):
    reports: list[ReportSummary]


class GoalIn(InputSchema):
    account_id: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=120)
    target_amount: int = Cents
    deadline: date | None = None
    state_version: int | None = Field(None, ge=0)


class GoalUpdateIn(InputSchema):
    name: str | None = Field(None, min_length=1, max_length=120)
    target_amount: int | None = Field(None, gt=0, le=10**12)
    deadline: date | None = None
    state_version: int | None = Field(None, ge=0)


class GoalOut(Schema):
    id: str
    account_id: str
    name: str
    target_amount: int
    current_amount: int
    deadline_game_date: date | None
    status: str


class GoalEnvelope(BaseModel):
    goal: GoalOut
    state_version: int


class HoldingOut(Schema):
    account_id: str
    asset_type: str
    cost_basis: int
    current_value: int
    drip_enabled: bool


class OrderView(BaseModel):
    order_id: str
    account_id: str
    asset_type: str
    action: str
    amount: int
    status: str


class InvestmentsOut(BaseModel):
    holdings: list[HoldingOut]
    total_value: int
    total_gain_loss: int
    orders: list[OrderView]


class OrderIn(InputSchema):
    account_id: str = Field(min_length=1, max_length=32)
    asset_type: str = Field(min_length=1, max_length=24)
    asset_name: str | None = Field(None, max_length=120)
    action: Literal["buy", "sell"]
    amount: int = Cents
    state_version: int | None = Field(None, ge=0)


class OrderOut(BaseModel):
    order_id: str
    status: str
    executes_on: date
    state_version: int


class CancelOut(BaseModel):
    cancelled: bool
    state_version: int


class ClaimIn(InputSchema):
    event_id: str = Field(min_length=1, max_length=32)
    state_version: int | None = Field(None, ge=0)


class ClaimResult(BaseModel):
    claim_id: str
    covered: bool
    deductible: int
    player_pays: int
    insurer_pays: int
    status: str


class ClaimOut(BaseModel):
    claim_result: ClaimResult
    state_version: int


class ChiPoint(Schema):
    game_month: date
    score: int
    breakdown: dict[str, int]


class ChiHistoryOut(BaseModel):
    history: list[ChiPoint]


class LoanIn(InputSchema):
    type: Literal["student_loan", "auto_loan", "mortgage", "personal_loan"]
    amount: int = Cents
    term_months: int = Field(ge=1, le=480)
    price: int = Field(0, ge=0, le=10**12)
    down_payment: int = Field(0, ge=0, le=10**12)
    state_version: int | None = Field(None, ge=0)


class LoanOut(BaseModel):
    approved: bool
    loan_details: dict[str, Any] | None = None
    denial_reason: str | None = None
    state_version: int


class AutoPayIn(InputSchema):
    setting: Literal["none", "minimum", "full"]
    state_version: int | None = Field(None, ge=0)


class ActionIn(InputSchema):
    """Any engine action, e.g. {"type": "open_account", "account_type": "savings"}."""

    action: dict[str, Any]
    state_version: int | None = Field(None, ge=0)


class ActionOut(BaseModel):
    result: dict[str, Any]
    state_version: int


class GameListItem(Schema):
    id: uuid.UUID
    status: str
    persona: str
    created_at: datetime
