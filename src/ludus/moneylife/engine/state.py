"""Game state: mutable slotted dataclasses holding integers and strings only.

Money fields are cents, rates basis points, sub-cent accruals micros, happiness
tenths of a point. Dates are `day_number`s (days since game start). No floats
and no sets, so canonical JSON of a state is stable byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ASSET_TYPES = ("checking", "prepaid", "savings", "brokerage", "retirement")
DEBT_TYPES = ("credit_card", "student_loan", "auto_loan", "mortgage", "personal_loan", "bnpl")
LOAN_TYPES = ("student_loan", "auto_loan", "mortgage", "personal_loan")


@dataclass(slots=True)
class Holding:
    asset: str
    value: int
    cost_basis: int
    drip: bool = False
    yield_bp: int = 0


@dataclass(slots=True)
class Instalment:
    due_day: int
    amount: int
    paid: bool = False
    late: bool = False


@dataclass(slots=True)
class Account:
    id: str
    type: str
    balance: int = 0
    residual: int = 0
    credit_limit: int = 0
    apr_bp: int = 0
    principal: int = 0
    monthly_payment: int = 0
    extra_monthly: int = 0
    term_months: int = 0
    months_paid: int = 0
    auto_pay: str = "none"
    status: str = "active"
    opened_day: int = 0
    missed: int = 0
    pending_interest: int = 0
    withdrawals: int = 0
    adb_sum: int = 0
    adb_days: int = 0
    statement: int = 0
    min_due: int = 0
    due_day: int = -1
    paid_since_statement: int = 0
    prev_paid_full: bool = True
    secured: bool = False
    collateral: int = 0
    rewards: bool = False
    cash_advance: int = 0
    overdraft: bool = False
    overdraft_since: int = -1
    overdraft_fee_charged: bool = False
    deferred: bool = False
    collected: int = 0
    in_collections: bool = False
    late_this_year: int = 0
    held_dividends: int = 0
    contributions_month: int = 0
    schedule: list[Instalment] = field(default_factory=list)
    holdings: list[Holding] = field(default_factory=list)


@dataclass(slots=True)
class Order:
    id: str
    account_id: str
    asset: str
    side: str
    amount: int
    placed_day: int
    status: str = "queued"


@dataclass(slots=True)
class Policy:
    id: str
    type: str
    base_premium: int
    premium: int
    deductible: int
    coverage_bp: int
    payout: int = 0
    claims_filed: int = 0
    claims_term: int = 0
    increase_bp: int = 0
    status: str = "active"
    started_day: int = 0
    lapsed_day: int = -1
    unpaid_months: int = 0
    arrears: int = 0


@dataclass(slots=True)
class Incident:
    id: str
    kind: str
    cost: int
    day: int
    insurance: str = ""
    claimed: bool = False


@dataclass(slots=True)
class Claim:
    id: str
    policy_id: str
    incident_id: str
    amount: int
    player_pays: int
    insurer_pays: int
    status: str
    day: int


@dataclass(slots=True)
class Goal:
    id: str
    account_id: str
    name: str
    target: int
    current: int = 0
    deadline_day: int = -1
    status: str = "active"


@dataclass(slots=True)
class Bill:
    id: str
    category: str
    priority: str
    base_micros: int
    variable: str = ""
    unpaid_months: int = 0
    active: bool = True


@dataclass(slots=True)
class PendingCard:
    id: str
    card_id: str
    presented_day: int
    expires_day: int
    costs: dict[str, int]
    gains: dict[str, int]
    status: str = "pending"
    option: str = ""
    xp: int = 0
    coins: int = 0
    amount: int = 0
    incident_id: str = ""


@dataclass(slots=True)
class Chain:
    id: str
    trigger_card: str
    trigger_option: str
    fire_day: int
    earliest_day: int
    latest_day: int
    outcome: int
    probability_ppm: int
    base_cost: int
    status: str = "waiting"
    followup: int = 0


@dataclass(slots=True)
class Penalty:
    month: int
    amount: int
    stage: int = 0


@dataclass(slots=True)
class ScheduledEvent:
    event_id: str
    day: int
    amount: int
    extra: int = 0


@dataclass(slots=True)
class MonthStats:
    income: int = 0
    expenses: int = 0
    flows: int = 0
    xp: int = 0
    coins: int = 0
    start_net_worth: int = 0
    start_savings: int = 0
    start_investments: int = 0
    start_debt: int = 0
    missed_any: bool = False
    highlights: list[str] = field(default_factory=list)


@dataclass(slots=True)
class LevelProgress:
    month: int = 0
    start_debt: int = 0
    overdrawn: bool = False
    goal_reached: bool = False
    budget_good_months: int = 0
    emergencies_no_debt: int = 0
    community_events: int = 0
    home_dti_ok: bool = False


@dataclass(slots=True)
class GameState:
    game_id: str
    seed: int
    persona: str
    difficulty: str
    currency: str
    content_version: str
    year: int
    month: int
    day: int
    day_number: int = 0
    state_version: int = 0
    status: str = "active"
    level: int = 1
    total_xp: int = 0
    coins: int = 0
    happiness: int = 600
    streak: int = 0
    chi: int = 650
    chi_parts: dict[str, int] = field(default_factory=dict)
    payment_history: int = 100
    penalties: list[Penalty] = field(default_factory=list)
    chi_offset: int = 0
    ontime_months: int = 0
    inquiries: list[int] = field(default_factory=list)
    budget_score: int = 0
    net_worth: int = 0
    flow_total: int = 0
    monthly_income: int = 0
    partner_income: int = 0
    job_loss_months: int = 0
    months_since_raise: int = 0
    inflation_ppm: int = 1_000_000
    bankruptcy_count: int = 0
    bankruptcy_month: int = -1
    bankruptcy_active: bool = False
    neg_worth_months: int = 0
    missed_streak: int = 0
    stressed: bool = False
    car_price: int = 0
    car_value: int = 0
    car_day: int = -1
    home_value: int = 0
    accounts: list[Account] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    bills: list[Bill] = field(default_factory=list)
    pending_cards: list[PendingCard] = field(default_factory=list)
    chains: list[Chain] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    scheduled: list[ScheduledEvent] = field(default_factory=list)
    allocations: dict[str, int] = field(default_factory=dict)
    actuals: dict[str, int] = field(default_factory=dict)
    card_seen: dict[str, int] = field(default_factory=dict)
    category_seen: dict[str, int] = field(default_factory=dict)
    week_counts: dict[str, int] = field(default_factory=dict)
    day_counts: dict[str, int] = field(default_factory=dict)
    next_id: int = 1
    months_played: int = 0
    progress: LevelProgress = field(default_factory=LevelProgress)
    month_stats: MonthStats = field(default_factory=MonthStats)
    xp_bonus_pct: int = 0
    easier_mark: bool = False
    endless: bool = False
    last_report: dict[str, object] = field(default_factory=dict)
    recurring_expenses: int = 0
    retirement_year: int = 0
    milestones: dict[str, int] = field(default_factory=dict)
    budget_penalty: bool = False
