"""Challenge scoring, ranking and payouts as pure functions (spec 001 ScoringRules).

Points for a day = (amount saved that day × points_per_unit ÷ unit), times the streak
multiplier for the run of consecutive days with a contribution ending that day (rounded
half-even to an integer). Add the early-bird bonus (first contribution within the first
`early_bird_days`) and the completion bonus when the challenge target is met.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

SAVINGS_KINDS = ("fixed_amount", "percentage", "streak", "group")
MONEYLIFE_KINDS = ("weekly", "monthly", "seasonal", "classroom", "head_to_head")
KINDS = SAVINGS_KINDS + MONEYLIFE_KINDS


@dataclass(frozen=True)
class Entry:
    at: datetime
    amount: int


@dataclass(frozen=True)
class ScoringRules:
    points_per_unit: int = 1
    unit: int = 1  # minor units per unit (100 for a currency with cents)
    streak_multipliers: tuple[tuple[int, Decimal], ...] = ()
    early_bird_bonus: int = 0
    early_bird_days: int = 3
    completion_bonus: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoringRules:
        pairs = tuple((int(k), Decimal(str(v))) for k, v in data.get("streak_multipliers", []))
        return cls(
            points_per_unit=int(data.get("points_per_unit", 1)),
            unit=int(data.get("unit", 1)),
            streak_multipliers=tuple(sorted(pairs)),
            early_bird_bonus=int(data.get("early_bird_bonus", 0)),
            early_bird_days=int(data.get("early_bird_days", 3)),
            completion_bonus=int(data.get("completion_bonus", 0)),
        )


@dataclass
class Result:
    user_id: uuid.UUID
    team_id: uuid.UUID | None
    total: int = 0
    score: int = 0
    completed: bool = False
    reached_at: datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    rank: int = 0
    coins: int = 0


def _multiplier(run: int, rules: ScoringRules) -> Decimal:
    best = Decimal(1)
    for minimum, value in rules.streak_multipliers:
        if run >= minimum:
            best = value
    return best


def _by_day(entries: Iterable[Entry], tz: ZoneInfo) -> dict[date, int]:
    days: dict[date, int] = defaultdict(int)
    for e in entries:
        days[e.at.astimezone(tz).date()] += e.amount
    return days


def base_points(entries: Sequence[Entry], rules: ScoringRules, tz: ZoneInfo) -> int:
    days = _by_day(entries, tz)
    points = 0
    run, previous = 0, None
    for day in sorted(days):
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        previous = day
        raw = Decimal(days[day] * rules.points_per_unit) / Decimal(rules.unit)
        points += int((raw * _multiplier(run, rules)).quantize(Decimal(1), ROUND_HALF_EVEN))
    return points


def _period_index(day: date, start: date, frequency: str) -> int:
    if frequency == "monthly":
        return (day.year - start.year) * 12 + day.month - start.month
    return (day - start).days // (7 if frequency == "weekly" else 1)


def _period_totals(
    entries: Sequence[Entry], start: datetime, end: datetime, frequency: str, tz: ZoneInfo
) -> list[int]:
    first = start.astimezone(tz).date()
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    totals = [0] * (_period_index(last, first, frequency) + 1)
    for e in entries:
        idx = _period_index(e.at.astimezone(tz).date(), first, frequency)
        if 0 <= idx < len(totals):
            totals[idx] += e.amount
    return totals


def _longest_run(flags: Sequence[bool]) -> int:
    best = run = 0
    for ok in flags:
        run = run + 1 if ok else 0
        best = max(best, run)
    return best


def target_met(
    kind: str,
    target: dict[str, Any],
    entries: Sequence[Entry],
    baseline: int,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
) -> tuple[bool, dict[str, Any]]:
    """Whether one participant met the individual target (group targets are per team)."""
    total = sum(e.amount for e in entries)
    if kind == "fixed_amount":
        periods = _period_totals(entries, start, end, target.get("frequency", "weekly"), tz)
        met = sum(1 for t in periods if t >= int(target["amount"]))
        return met == len(periods), {"periods_met": met, "periods": len(periods)}
    if kind == "percentage":
        goal = math.ceil(baseline * (100 + int(target["increase_pct"])) / 100)
        return baseline > 0 and total >= goal, {"goal": goal}
    if kind == "streak":
        periods = _period_totals(entries, start, end, target.get("period", "weekly"), tz)
        run = _longest_run([t >= int(target.get("min_amount", 1)) for t in periods])
        return run >= int(target["consecutive"]), {"longest_run": run}
    if kind == "group":
        return False, {}
    amount = target.get("amount")
    return (amount is not None and total >= int(amount)), {}


def score_one(
    *,
    kind: str,
    target: dict[str, Any],
    rules: ScoringRules,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    user_id: uuid.UUID,
    team_id: uuid.UUID | None,
    entries: Sequence[Entry],
    baseline: int,
    joined_at: datetime,
) -> Result:
    entries = sorted((e for e in entries if start <= e.at < end), key=lambda e: e.at)
    completed, detail = target_met(kind, target, entries, baseline, start, end, tz)
    points = base_points(entries, rules, tz)
    if entries and entries[0].at < start + timedelta(days=rules.early_bird_days):
        points += rules.early_bird_bonus
    if completed:
        points += rules.completion_bonus
    return Result(
        user_id=user_id,
        team_id=team_id,
        total=sum(e.amount for e in entries),
        score=points,
        completed=completed,
        reached_at=entries[-1].at if entries else joined_at,
        detail=detail,
    )


def apply_group_target(results: list[Result], target: dict[str, Any], rules: ScoringRules) -> dict:
    """Group challenges: a team completes when its total reaches `team_amount` with at least
    `min_members`; every member of a completed team gets the completion bonus."""
    teams: dict[uuid.UUID, list[Result]] = defaultdict(list)
    for r in results:
        if r.team_id is not None:
            teams[r.team_id].append(r)
    summary = {}
    for team_id, members in teams.items():
        total = sum(m.total for m in members)
        done = total >= int(target["team_amount"]) and len(members) >= int(
            target.get("min_members", 1)
        )
        for m in members:
            if done and not m.completed:
                m.completed = True
                m.score += rules.completion_bonus
        summary[team_id] = {"total": total, "members": len(members), "completed": done}
    return summary


def _order_key(r: Result) -> tuple[int, datetime, str]:
    assert r.reached_at is not None
    return (-r.score, r.reached_at, str(r.user_id))


def rank(results: list[Result]) -> list[Result]:
    """Distinct ranks: score desc, then who reached it first, then user id."""
    ordered = sorted(results, key=_order_key)
    for i, r in enumerate(ordered, start=1):
        r.rank = i
    return ordered


def team_ranking(results: Sequence[Result]) -> list[tuple[uuid.UUID, int]]:
    """Teams by summed member score desc, then earliest latest-reach, then team id."""
    scores: dict[uuid.UUID, int] = defaultdict(int)
    reached: dict[uuid.UUID, datetime] = {}
    for r in results:
        if r.team_id is None or r.reached_at is None:
            continue
        scores[r.team_id] += r.score
        reached[r.team_id] = max(reached.get(r.team_id, r.reached_at), r.reached_at)
    order = sorted(scores, key=lambda t: (-scores[t], reached[t], str(t)))
    return [(t, scores[t]) for t in order]


def payouts(kind: str, rewards: dict[str, Any], ranked: list[Result]) -> None:
    """Fill `coins` on each ranked result from the challenge's reward table."""
    n = len(ranked)
    if kind == "head_to_head" and n == 2:
        table = {"win": 50, "loss": 15, "tie": 30, **rewards.get("head_to_head", {})}
        a, b = ranked
        if a.score == b.score:
            a.coins = b.coins = int(table["tie"])
        else:
            a.coins, b.coins = int(table["win"]), int(table["loss"])
        return
    places = [int(x) for x in rewards.get("places", [])]
    brackets = sorted((int(p), int(c)) for p, c in rewards.get("percentiles", []))
    participation = int(rewards.get("participation", 0))
    scale = int(rewards.get("scale_pct", 100))
    for r in ranked:
        coins = participation
        if r.rank <= len(places):
            coins = places[r.rank - 1]
        else:
            for pct, amount in brackets:
                if r.rank <= math.ceil(n * pct / 100):
                    coins = amount
                    break
        if r.completed:
            coins += int(rewards.get("completion", 0))
        r.coins = coins * scale // 100
    bonus = int(rewards.get("winning_team_bonus", 0))
    teams = team_ranking(ranked)
    if bonus and teams:
        winner = teams[0][0]
        for r in ranked:
            if r.team_id == winner:
                r.coins += bonus * scale // 100
