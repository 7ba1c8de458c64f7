"""Budget allocations, actuals and the monthly budget score.

Category score with r = spent ÷ budget: budget 0 → 100 if nothing spent else 0;
0.8 ≤ r ≤ 1 → 100; 0.5 ≤ r < 0.8 → 90; r < 0.5 → 75; r > 1 → max(0, 100 − 200(r − 1)).
Month score = category scores weighted by budget share, times (1 − U/(B+U)) for
unbudgeted spend U. All integer arithmetic, rounded half-even once.
"""

from __future__ import annotations

from fractions import Fraction

from .content import BUDGET_CATEGORIES, REQUIRED_BUDGET
from .errors import BUDGET_INVALID, ActionError
from .money import div_round

# Score thresholds → (xp, coins) rewards; ≥95 adds 50 coins.
REWARDS = ((90, 50, 25), (75, 30, 10), (60, 15, 5), (40, 5, 0))


def category_score(budget: int, spent: int) -> Fraction:
    if budget <= 0:
        return Fraction(100) if spent <= 0 else Fraction(0)
    r = Fraction(spent, budget)
    if r > 1:
        return max(Fraction(0), 100 - 200 * (r - 1))
    if r >= Fraction(4, 5):
        return Fraction(100)
    if r >= Fraction(1, 2):
        return Fraction(90)
    return Fraction(75)


def _weighted(budget: int, spent: int) -> int:
    """category score × budget, an exact integer for every branch."""
    if spent * 5 < budget * 4:
        return (90 if spent * 2 >= budget else 75) * budget
    if spent <= budget:
        return 100 * budget
    return max(0, 300 * budget - 200 * spent)


def month_score(allocations: dict[str, int], actuals: dict[str, int]) -> int:
    """Σ(score·budget)/B × B/(B+U) simplifies to Σ(score·budget)/(B+U)."""
    total_budget = 0
    weighted = 0
    for cat, budget in allocations.items():
        if budget > 0:
            total_budget += budget
            weighted += _weighted(budget, actuals.get(cat, 0))
    unbudgeted = 0
    for cat, spent in actuals.items():
        if spent > 0 and cat not in allocations:
            unbudgeted += spent
    if total_budget <= 0:
        return 0 if unbudgeted > 0 else 100
    return div_round(weighted, total_budget + unbudgeted)


def rewards_for(score: int) -> tuple[int, int]:
    xp = coins = 0
    for floor, x, c in REWARDS:
        if score >= floor:
            xp, coins = x, c
            break
    if score >= 95:
        coins += 50
    return xp, coins


def validate_allocations(allocations: dict[str, int], income: int) -> None:
    for cat, amount in allocations.items():
        if cat not in BUDGET_CATEGORIES:
            raise ActionError(BUDGET_INVALID, f"unknown category {cat}")
        if amount < 0:
            raise ActionError(BUDGET_INVALID, f"negative allocation for {cat}")
    missing = [c for c in REQUIRED_BUDGET if c not in allocations]
    if missing:
        raise ActionError(BUDGET_INVALID, f"missing required categories {missing}")
    if sum(allocations.values()) > income:
        raise ActionError(BUDGET_INVALID, "allocations exceed income")
    if allocations["savings"] * 10 < income:
        raise ActionError(BUDGET_INVALID, "savings must be at least 10% of income")
