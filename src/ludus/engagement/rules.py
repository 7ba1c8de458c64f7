"""Per-tenant, per-product engagement settings.

Stored in `tenants.config["engagement"]`: a `"default"` block and optional blocks per product
key ("moneylife", "savings", ...); a product block overrides the default block field by
field, and anything unset falls back to the defaults below (the MoneyLife rules brief).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.tenancy.models import Tenant


class _Block(BaseModel):
    model_config = ConfigDict(extra="ignore")


class LevelRule(_Block):
    level: int
    xp: int  # cumulative XP needed
    conditions: dict[str, int] = Field(default_factory=dict)  # fact -> minimum value
    coins: int = 0
    xp_bonus: int = 0


class TierRule(_Block):
    tier: int
    name: str
    xp: int  # lifetime XP needed
    coin_bonus_pct: int = 0
    perks: list[str] = Field(default_factory=list)


class Milestone(_Block):
    days: int
    xp: int = 0
    coins: int = 0


class StreakRules(_Block):
    period: str = "daily"  # daily | weekly
    # Event types that count as a streak action; empty: every ingested event counts.
    qualifying_events: list[str] = Field(default_factory=list)
    # [min length, multiplier] pairs, ascending.
    multipliers: list[tuple[int, Decimal]] = Field(
        default_factory=lambda: [
            (1, Decimal("1.0")),
            (7, Decimal("1.1")),
            (14, Decimal("1.2")),
            (30, Decimal("1.3")),
            (60, Decimal("1.4")),
            (90, Decimal("1.5")),
        ]
    )
    shield_cost: int = 50
    shield_extra_periods: int = 1
    shield_cooldown_days: int = 30
    insurance_cost: int = 100
    insurance_window_hours: int = 24
    milestones: list[Milestone] = Field(
        default_factory=lambda: [
            Milestone(days=d, xp=x, coins=c)
            for d, x, c in (
                (7, 25, 10),
                (14, 50, 20),
                (30, 100, 50),
                (60, 150, 75),
                (90, 200, 100),
                (180, 500, 250),
                (365, 1000, 500),
            )
        ]
    )


class CoinRules(_Block):
    asset: str = "COIN"
    daily_cap: int = 1000  # earned per user per UTC day; 0 = no cap
    per_minute: int = 30  # earn operations per user per minute (velocity); 0 = no check


class RedemptionLimits(_Block):
    per_day: int = 5
    coins_per_day: int = 5000
    per_item_per_day: int = 2
    per_month: int = 20
    coins_per_month: int = 20000


class ReferralRules(_Block):
    prefix: str = "LD"
    referrer_coins: int = 200
    referrer_xp: int = 100
    referee_coins: int = 100
    referee_xp: int = 50
    max_per_30_days: int = 3
    max_total: int = 10
    qualifying_event: str = "level.up"
    qualifying_min_amount: int = 2  # e.g. level 2
    min_days: int = 7


def _levels() -> list[LevelRule]:
    xps = (500, 2000, 5000, 10000, 18000, 30000, 48000, 73000)
    return [
        LevelRule(level=i + 1, xp=x, coins=100 * (i + 1), xp_bonus=250 * (i + 1))
        for i, x in enumerate(xps)
    ]


def _tiers() -> list[TierRule]:
    rows: tuple[tuple[int, str, int, int, list[str]], ...] = (
        (1, "Newcomer", 0, 0, []),
        (2, "Saver", 1000, 0, []),
        (3, "Planner", 5000, 0, []),
        (4, "Savings Champion", 15000, 5, ["coin_bonus"]),
        (5, "Strategist", 30000, 10, ["coin_bonus"]),
        (6, "Mogul", 55000, 15, ["coin_bonus"]),
        (7, "Legend", 85000, 20, ["coin_bonus", "mentor"]),
    )
    return [TierRule(tier=t, name=n, xp=x, coin_bonus_pct=b, perks=p) for t, n, x, b, p in rows]


class EngagementRules(_Block):
    levels: list[LevelRule] = Field(default_factory=_levels)
    tiers: list[TierRule] = Field(default_factory=_tiers)
    streak: StreakRules = Field(default_factory=StreakRules)
    coins: CoinRules = Field(default_factory=CoinRules)
    redemption: RedemptionLimits = Field(default_factory=RedemptionLimits)
    referral: ReferralRules = Field(default_factory=ReferralRules)
    badge_coins: dict[str, int] = Field(
        default_factory=lambda: {"common": 10, "rare": 25, "epic": 50, "legendary": 100}
    )


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def rules_from_config(config: dict[str, Any], product: str) -> EngagementRules:
    block = config.get("engagement") or {}
    merged = _merge(block.get("default") or {}, block.get(product) or {})
    return EngagementRules.model_validate(merged)


async def load_rules(session: AsyncSession, tenant_id: uuid.UUID, product: str) -> EngagementRules:
    """The tenant's rules for a product, parsed once per session."""
    cache: dict[tuple[uuid.UUID, str], EngagementRules] = session.info.setdefault(
        "engagement_rules", {}
    )
    rules = cache.get((tenant_id, product))
    if rules is None:
        tenant = await session.get(Tenant, tenant_id)
        rules = rules_from_config(tenant.config if tenant else {}, product)
        cache[(tenant_id, product)] = rules
    return rules
