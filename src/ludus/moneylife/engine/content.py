"""Versioned game content: personas, difficulty, levels, regions, products, cards.

Files live in `ludus/moneylife/content/<version>/` and are validated by the
Pydantic models below when loaded. Amounts in content files are whole or
decimal CU; the loader converts them to cents once so the hot loop never
touches Pydantic validation again.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_M = TypeVar("_M", bound=BaseModel)
CONTENT_ROOT = Path(__file__).resolve().parent.parent / "content"

Money = Decimal
Range = tuple[Decimal, Decimal]
Quality = Literal["worst", "poor", "ok", "good", "best"]
PayFrom = Literal["cash", "card", "savings", "bnpl", "insurance"]
PERSONAS = ("teen", "student", "young_adult", "parent")
BUDGET_CATEGORIES = (
    "housing",
    "food",
    "transport",
    "utilities",
    "savings",
    "entertainment",
    "shopping",
    "health",
    "education",
    "subscriptions",
    "misc",
    "insurance",
    "debt",
)
REQUIRED_BUDGET = ("housing", "food", "transport", "utilities", "savings")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _cents(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


class Bill(_Model):
    id: str
    category: str
    priority: Literal["housing", "insurance", "utilities", "subscriptions", "other"]
    amount: Money
    variable: Literal["", "utility", "groceries"] = ""


class StartAccount(_Model):
    type: str
    balance: Money = Decimal(0)
    limit: Money = Decimal(0)
    months_open: int = 0


class StartLoan(_Model):
    type: Literal["student_loan", "auto_loan", "mortgage", "personal_loan"]
    balance: Money
    apr_bp: int
    term_months: int
    payment: Money | None = None
    deferred: bool = False
    months_open: int = 12


class StartPolicy(_Model):
    type: str
    premium: Money


class StartGoal(_Model):
    name: str
    target: Money


class PeriodicCost(_Model):
    every_months: int
    name: str
    category: str
    amount: Money
    loan_disbursement: Money = Decimal(0)


class Persona(_Model):
    id: str
    age: int
    start_cash: Money
    income: Money
    partner_income: Money = Decimal(0)
    income_variable: bool = False
    raise_range_bp: tuple[int, int] = (200, 500)
    accounts: list[StartAccount]
    loans: list[StartLoan] = []
    bills: list[Bill]
    policies: list[StartPolicy] = []
    goals: list[StartGoal] = []
    periodic: list[PeriodicCost] = []
    xp_milli: int
    card_base_limit: Money
    unlocks: dict[str, int]
    parent_denial_pct: int = 0
    emergency_scale_pct: int = 100
    car_price: Money = Decimal(0)
    car_age_years: int = 0
    home_value: Money = Decimal(0)
    default_budget: dict[str, Money]


class Difficulty(_Model):
    id: str
    start_cash_pct: int
    income_variance_bp: int
    emergency_every_months: int
    emergency_cost_pct: tuple[int, int]
    inflation_bp: int
    savings_apy_bp: int
    card_apr_bp: int
    late_fee_milli: int
    overdraft_grace_days: int
    loan_min_chi: int
    dti_cap_pct: int
    xp_milli: int
    good_choice_bonus_pct: int
    chain_milli: int
    reminder_days: int
    raise_every_months: int
    volatility_milli: int
    happiness_decay_tenths: int
    spend_happiness_milli: int
    rank: int


class Level(_Model):
    level: int
    xp_cumulative: int
    months: int
    card_multiplier_milli: int
    conditions: list[str]
    cards_base: int
    cards_extra_pct: int


class Region(_Model):
    currency: str
    ppp: Decimal
    decimals: int
    tax_rate_bp: int


class Asset(_Model):
    id: str
    mean_bp: int
    sd_bp: int
    dividend_bp: tuple[int, int]
    min_level: int = 1


class InsuranceType(_Model):
    id: str
    premium: Money
    deductible: Money
    coverage_bp: int
    payout: Money = Decimal(0)
    unlock_level: int
    requires: str = ""
    covers: list[str] = []


class RandomEvent(_Model):
    id: str
    p_bp: int
    kind: Literal["emergency", "job_loss", "raise", "bonus", "inheritance"]
    cost: Range = (Decimal(0), Decimal(0))
    insurance: str = ""
    requires: str = ""
    card: str = ""


class SeasonalEvent(_Model):
    id: str
    months: list[int]
    weight_milli: int


class Effect(_Model):
    gain: Range = (Decimal(0), Decimal(0))
    cost: Range = (Decimal(0), Decimal(0))
    cost_multiple_milli: int = 0
    happiness: int = 0
    narrative: str = ""


class Outcome(_Model):
    p: Decimal = Field(ge=0, le=1)
    card: str = ""
    effect: Effect | None = None


class FollowUp(_Model):
    window: tuple[int, int]
    outcomes: list[Outcome]

    @model_validator(mode="after")
    def _check(self) -> FollowUp:
        if not 0 < self.window[0] <= self.window[1]:
            raise ValueError("follow-up window must be positive and ordered")
        if sum(o.p for o in self.outcomes) > 1:
            raise ValueError("follow-up outcome probabilities exceed 1")
        return self


class Option(_Model):
    id: str
    label: str
    cost: Range = (Decimal(0), Decimal(0))
    gain: Range = (Decimal(0), Decimal(0))
    pay_from: PayFrom = "cash"
    category: str = "misc"
    quality: Quality = "ok"
    happiness: int = 0
    xp: int | None = None
    coins: int | None = None
    chi: int = 0
    tags: list[str] = []
    followups: list[FollowUp] = []

    @field_validator("cost", "gain", mode="before")
    @classmethod
    def _range(cls, v: object) -> object:
        return (v, v) if isinstance(v, int | float | str) else v


class Card(_Model):
    id: str
    category: str
    subcategory: str = ""
    title: str
    description: str
    personas: list[str]
    level_min: int = 1
    level_max: int = 8
    weight: int = 10
    seasonal: str = ""
    requires: list[str] = []
    chain_only: bool = False
    options: list[Option] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Card:
        ids = [o.id for o in self.options]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self.id}: duplicate option ids")
        for p in self.personas:
            if p not in PERSONAS:
                raise ValueError(f"{self.id}: unknown persona {p}")
        return self


class Content:
    """Loaded, validated content plus lookup tables built once."""

    def __init__(self, version: str, raw: dict[str, object]) -> None:
        self.version = version
        self.personas = {p.id: p for p in _parse(Persona, raw["personas"])}
        self.difficulties = {d.id: d for d in _parse(Difficulty, raw["difficulty"])}
        levels = sorted(_parse(Level, raw["levels"]), key=lambda lv: lv.level)
        self.levels = {lv.level: lv for lv in levels}
        self.regions = {r.currency: r for r in _parse(Region, raw["regions"])}
        products = raw["products"]
        assert isinstance(products, dict)
        self.assets = {a.id: a for a in _parse(Asset, products["assets"])}
        self.insurance = {i.id: i for i in _parse(InsuranceType, products["insurance"])}
        self.random_events = _parse(RandomEvent, raw["events"])
        self.seasons = {s.id: s for s in _parse(SeasonalEvent, raw["seasons"])}
        self.cards = {c.id: c for c in _parse(Card, raw["cards"])}
        self.option_index = {(c.id, o.id): o for c in self.cards.values() for o in c.options}
        self._check_links()

    def _check_links(self) -> None:
        for card in self.cards.values():
            if card.seasonal and card.seasonal not in self.seasons:
                raise ValueError(f"{card.id}: unknown season {card.seasonal}")
            for opt in card.options:
                for fu in opt.followups:
                    for out in fu.outcomes:
                        if out.card and out.card not in self.cards:
                            raise ValueError(f"{card.id}: unknown follow-up {out.card}")
        for ev in self.random_events:
            if ev.card and ev.card not in self.cards:
                raise ValueError(f"event {ev.id}: unknown card {ev.card}")


def _parse(model: type[_M], items: object) -> list[_M]:
    if not isinstance(items, list):
        raise ValueError(f"expected a list for {model.__name__}")
    return [model.model_validate(item) for item in items]


def _read(path: Path) -> object:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@lru_cache(maxsize=4)
def load_content(version: str = "v1") -> Content:
    """Load and validate one content version (cached per process)."""
    root = CONTENT_ROOT / version
    if not root.is_dir():
        raise ValueError(f"unknown content version {version!r}")
    raw: dict[str, object] = {}
    for name in ("personas", "difficulty", "levels", "regions", "products", "events", "seasons"):
        raw[name] = _read(root / f"{name}.yaml")
    cards: list[object] = []
    for path in sorted((root / "cards").glob("*.yaml")):
        data = _read(path)
        if not isinstance(data, list):
            raise ValueError(f"{path.name}: expected a list of cards")
        cards.extend(data)
    raw["cards"] = cards
    return Content(version, raw)


def cents(value: Decimal) -> int:
    """Content CU amount to cents."""
    return _cents(value)
