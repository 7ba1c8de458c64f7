"""Streak rules as pure functions over a small state record.

A streak counts consecutive periods (local calendar days, or ISO weeks starting Monday) with
at least one qualifying action, in the user's timezone. After an action in period P the
streak survives until the start of period P+2 (the user has all of P+1 to act); that instant
is the `deadline`. Day boundaries come from zoneinfo, so a 23- or 25-hour DST day is still
one day. A shield (bought while the streak is alive) moves the deadline one period later; an
insurance (bought within a window after the break) restores the broken length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ludus.engagement import errors
from ludus.engagement.rules import StreakRules


@dataclass
class StreakState:
    timezone: str = "UTC"
    current: int = 0
    longest: int = 0
    last_period: date | None = None
    last_action_at: datetime | None = None
    deadline: datetime | None = None
    shield_until: datetime | None = None
    shield_bought_at: datetime | None = None
    broken_at: datetime | None = None
    broken_length: int = 0
    insured_at: datetime | None = None


@dataclass
class Outcome:
    counted: bool = False  # the action extended or started the streak
    broken: int = 0  # length of a streak found broken (0: none)
    milestone: int | None = None
    shield_used: bool = False
    notes: list[str] = field(default_factory=list)


def _step(rules: StreakRules) -> int:
    return 7 if rules.period == "weekly" else 1


def period_of(at: datetime, tz: str, rules: StreakRules) -> date:
    local = at.astimezone(ZoneInfo(tz)).date()
    if rules.period == "weekly":
        return local - timedelta(days=local.weekday())
    return local


def period_start(period: date, tz: str) -> datetime:
    return datetime.combine(period, time(0), tzinfo=ZoneInfo(tz))


def deadline_after(period: date, tz: str, rules: StreakRules, extra: int = 0) -> datetime:
    return period_start(period + timedelta(days=_step(rules) * (2 + extra)), tz)


def multiplier_for(length: int, rules: StreakRules) -> Decimal:
    best = Decimal(1)
    for minimum, value in sorted(rules.multipliers, key=lambda pair: pair[0]):
        if length >= minimum:
            best = Decimal(value)
    return best


def settle(state: StreakState, now: datetime) -> int:
    """Break the streak if its deadline has passed; returns the broken length (0: none)."""
    if state.current > 0 and state.deadline is not None and now >= state.deadline:
        length = state.current
        state.broken_at = state.deadline
        state.broken_length = length
        state.current = 0
        state.shield_until = None
        return length
    return 0


def record(state: StreakState, at: datetime, rules: StreakRules) -> Outcome:
    """Count one qualifying action at `at` (aware datetime)."""
    out = Outcome(broken=settle(state, at))
    period = period_of(at, state.timezone, rules)
    if state.last_period is not None and period <= state.last_period:
        out.notes.append("same_period" if period == state.last_period else "out_of_order")
        return out
    step = timedelta(days=_step(rules))
    if state.current > 0:
        out.shield_used = state.last_period is not None and period > state.last_period + step
        state.current += 1
    else:
        state.current = 1
    state.shield_until = None
    state.last_period = period
    state.last_action_at = at
    state.deadline = deadline_after(period, state.timezone, rules)
    state.longest = max(state.longest, state.current)
    out.counted = True
    if any(m.days == state.current for m in rules.milestones):
        out.milestone = state.current
    return out


def activate_shield(state: StreakState, now: datetime, rules: StreakRules) -> datetime:
    """Extend the current deadline; refused when too late, already active, or cooling down."""
    settle(state, now)
    if state.current == 0:
        if state.broken_length:
            raise errors.ShieldTooLate(details={"broken_at": _iso(state.broken_at)})
        raise errors.NoStreak()
    if state.shield_until is not None and state.shield_until > now:
        raise errors.ShieldActive(details={"grace_until": _iso(state.shield_until)})
    cooldown = timedelta(days=rules.shield_cooldown_days)
    if state.shield_bought_at is not None and now - state.shield_bought_at < cooldown:
        raise errors.ShieldCooldown(
            details={"available_at": _iso(state.shield_bought_at + cooldown)}
        )
    assert state.last_period is not None
    until = deadline_after(state.last_period, state.timezone, rules, rules.shield_extra_periods)
    state.shield_until = until
    state.shield_bought_at = now
    state.deadline = until
    return until


def restore(state: StreakState, now: datetime, rules: StreakRules) -> int:
    """Insurance: bring back the broken length within the window; returns the new length."""
    settle(state, now)
    if state.broken_at is None or state.broken_length == 0:
        raise errors.NotBroken()
    window_end = state.broken_at + timedelta(hours=rules.insurance_window_hours)
    if now > window_end:
        raise errors.InsuranceExpired(details={"expired_at": _iso(window_end)})
    if state.current > 0:
        # A new streak started after the break: the missed period is forgiven.
        state.current += state.broken_length
    else:
        today = period_of(now, state.timezone, rules)
        state.current = state.broken_length
        state.last_period = today - timedelta(days=_step(rules))
        state.deadline = deadline_after(state.last_period, state.timezone, rules)
    state.longest = max(state.longest, state.current)
    state.broken_at = None
    state.broken_length = 0
    state.insured_at = now
    return state.current


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
