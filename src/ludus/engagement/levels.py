"""Level and tier arithmetic (pure): XP thresholds plus optional extra conditions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ludus.engagement.rules import LevelRule, TierRule


def conditions_met(rule: LevelRule, facts: dict[str, Any]) -> bool:
    for fact, minimum in rule.conditions.items():
        value = facts.get(fact)
        if not isinstance(value, int | float) or value < minimum:
            return False
    return True


def level_for(lifetime_xp: int, facts: dict[str, Any], table: list[LevelRule]) -> int:
    """Highest level whose XP and conditions are met, climbing one step at a time."""
    level = 0
    for rule in sorted(table, key=lambda r: r.level):
        if lifetime_xp >= rule.xp and conditions_met(rule, facts):
            level = rule.level
        else:
            break
    return level


def levels_gained(old: int, new: int, table: list[LevelRule]) -> list[LevelRule]:
    return [r for r in sorted(table, key=lambda r: r.level) if old < r.level <= new]


@dataclass(frozen=True)
class TierProgress:
    current: TierRule
    next: TierRule | None
    progress_pct: int  # toward the next tier, 0..100


def tier_for(lifetime_xp: int, tiers: list[TierRule]) -> TierProgress:
    ordered = sorted(tiers, key=lambda t: t.xp)
    current = ordered[0]
    nxt: TierRule | None = None
    for tier in ordered:
        if lifetime_xp >= tier.xp:
            current = tier
        else:
            nxt = tier
            break
    if nxt is None:
        return TierProgress(current, None, 100)
    span = nxt.xp - current.xp
    return TierProgress(current, nxt, (lifetime_xp - current.xp) * 100 // span if span else 0)
