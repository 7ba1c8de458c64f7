"""XP, coins, tiers, streak multipliers and level progression.

XP = round(base × persona × streak × difficulty) with extra multipliers for the
Easy good-choice bonus, the "went harder" +10 % and bankruptcy recovery; all in
integer thousandths, rounded half-even. XP never decreases.
"""

from __future__ import annotations

from .calendar import month_index
from .ledger import (
    Ctx,
    debt_total,
    dti_pct_milli,
    emit,
    gross_income,
    investments_value,
    monthly_debt_payments,
    net_worth,
    savings_total,
)
from .money import div_round
from .state import LevelProgress

TIER_THRESHOLDS = (0, 1_000, 5_000, 15_000, 30_000, 55_000, 85_000)
TIER_COIN_BONUS_PCT = (0, 0, 0, 5, 10, 15, 20)
_STREAK_STEPS = ((90, 1500), (60, 1400), (30, 1300), (14, 1200), (7, 1100))
QUALITY_XP = {"worst": 5, "poor": 5, "ok": 5, "good": 12, "best": 20}
QUALITY_COINS = {"worst": 1, "poor": 1, "ok": 1, "good": 3, "best": 5}


def streak_multiplier_milli(days: int) -> int:
    for start, milli in _STREAK_STEPS:
        if days >= start:
            return milli
    return 1000


def tier_for_xp(lifetime_xp: int) -> int:
    """Tier 1..7 by lifetime XP."""
    return sum(1 for t in TIER_THRESHOLDS if lifetime_xp >= t)


def xp_amount(base: int, persona_milli: int, streak_days: int, difficulty_milli: int,
              extra_milli: int = 1000) -> int:  # fmt: skip
    num = base * persona_milli * streak_multiplier_milli(streak_days) * difficulty_milli
    return div_round(num * extra_milli, 1000**4)


def coin_amount(base: int, streak_days: int, lifetime_xp: int, endless: bool) -> int:
    bonus = 1000 + 10 * TIER_COIN_BONUS_PCT[tier_for_xp(lifetime_xp) - 1]
    num = base * streak_multiplier_milli(streak_days) * bonus * (700 if endless else 1000)
    return div_round(num, 1000**3)


def _recovery_milli(ctx: Ctx) -> int:
    st = ctx.st
    if st.bankruptcy_month < 0:
        return 1000
    months = month_index(st.year, st.month) - st.bankruptcy_month
    if months >= 24:
        return 1000
    return 1200 if st.bankruptcy_count > 1 else 1500


def award_xp(ctx: Ctx, base: int, category: str = "", good_choice: bool = False) -> int:
    if base <= 0:
        return 0
    st = ctx.st
    extra = (1000 + 10 * st.xp_bonus_pct) * _recovery_milli(ctx) // 1000
    if good_choice and ctx.diff.good_choice_bonus_pct:
        extra = extra * (100 + ctx.diff.good_choice_bonus_pct) // 100
    if category:
        # Farming guard: repeating a category 5+ times a week halves, 10+ quarters.
        seen = st.week_counts.get(category, 0) + 1
        st.week_counts[category] = seen
        if seen >= 10:
            extra //= 4
        elif seen >= 5:
            extra //= 2
    xp = xp_amount(base, ctx.persona.xp_milli, st.streak, ctx.diff.xp_milli, extra)
    st.total_xp += xp
    st.month_stats.xp += xp
    return xp


def award_coins(ctx: Ctx, base: int) -> int:
    if base <= 0:
        return 0
    st = ctx.st
    coins = coin_amount(base, st.streak, st.total_xp, st.endless)
    st.coins += coins
    st.month_stats.coins += coins
    return coins


def retirement_readiness_pct(ctx: Ctx) -> int:
    """Our definition: invested assets ÷ (10 years of recurring expenses), in %."""
    target = ctx.st.recurring_expenses * 120
    if target <= 0:
        return 100
    return min(100, investments_value(ctx.st) * 100 // target)


def _coverage_months_milli(ctx: Ctx) -> int:
    bills = ctx.st.recurring_expenses
    if bills <= 0:
        return 10**9
    return savings_total(ctx.st) * 1000 // bills


def condition_met(ctx: Ctx, cond: str) -> bool:
    st, pr = ctx.st, ctx.st.progress
    income = gross_income(st)
    checks = {
        "no_overdraft": lambda: not pr.overdrawn,
        "savings_50": lambda: savings_total(st) >= 5_000,
        "goal_reached": lambda: pr.goal_reached,
        "budget_60_2m": lambda: pr.budget_good_months >= 2,
        "expenses_1m": lambda: _coverage_months_milli(ctx) >= 1000,
        "emergency_no_debt": lambda: pr.emergencies_no_debt >= 1,
        "debt_or_invest": lambda: (
            (pr.start_debt > 0 and debt_total(st) * 5 <= pr.start_debt * 4)
            or investments_value(st) >= 100_000
        ),
        "chi_650": lambda: st.chi >= 650,
        "chi_700": lambda: st.chi >= 700,
        "chi_750": lambda: st.chi >= 750,
        "home_or_nw20k": lambda: pr.home_dti_ok or net_worth(st) >= 2_000_000,
        "nw_50k": lambda: net_worth(st) >= 5_000_000,
        "dti_36": lambda: dti_pct_milli(monthly_debt_payments(st), income) <= 36_000,
        "expenses_6m": lambda: _coverage_months_milli(ctx) >= 6000,
        "portfolio_3x": lambda: investments_value(st) >= 3 * income,
        "community_2": lambda: pr.community_events >= 2,
        "readiness_80": lambda: retirement_readiness_pct(ctx) >= 80,
        "nw_200k": lambda: net_worth(st) >= 20_000_000,
    }
    check = checks.get(cond)
    if check is None:
        raise ValueError(f"unknown level condition {cond!r}")
    return bool(check())


def level_up_check(ctx: Ctx) -> bool:
    """Month-end step 11: needs the cumulative XP AND every condition of the level."""
    st = ctx.st
    level = ctx.content.levels[st.level]
    if st.endless or st.total_xp < level.xp_cumulative:
        return False
    if not all(condition_met(ctx, c) for c in level.conditions):
        return False
    cleared = st.level
    # Level-up rewards are flat (100·L coins, 250·L XP): no multipliers apply.
    st.coins += 100 * cleared
    st.total_xp += 250 * cleared
    st.month_stats.coins += 100 * cleared
    st.month_stats.xp += 250 * cleared
    st.xp_bonus_pct = 0
    emit(ctx, "LEVEL_UP", cleared=cleared, badge=f"level-{cleared}")
    if cleared >= max(ctx.content.levels):
        st.endless = True
    else:
        st.level = cleared + 1
    st.progress = LevelProgress(start_debt=debt_total(st))
    return True
