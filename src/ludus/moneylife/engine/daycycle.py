"""The day cycle: `advance_day(state, actions, content) -> (state, events)`.

Order: apply the player's actions (each validated; a rejected action changes
nothing), close the day (interest accrual, closing balances for the ADB), run
month-end / year-end when the date passes the month's last day, then open the
new day: overdraft, due dates, instalments, order fills, chains, random events,
card expiry, the weekly cycle and today's deal.
"""

from __future__ import annotations

from typing import Any

from . import accounts, cards, creditcard, deck, events, invest, loans, monthend
from .actions import apply_actions
from .calendar import is_month_end, iso, next_date
from .content import Content
from .errors import CARDS_PENDING, GAME_NOT_ACTIVE, STALE_STATE
from .ledger import Ctx, emit, make_ctx
from .progression import award_xp
from .serial import clone
from .state import GameState

DAY_ADVANCE_XP = 3


def advance_day(
    state: GameState,
    actions: list[dict[str, Any]] | None,
    content: Content,
    *,
    auto: bool = False,
    expected_version: int | None = None,
) -> tuple[GameState, list[dict[str, Any]]]:
    """Return a new state one game day later plus the events produced.

    The input state is never modified. Manual advances are blocked while cards
    are pending; auto-advance (`auto=True`) proceeds and lets cards expire.
    """
    st = clone(state)
    ctx = make_ctx(st, content)
    if expected_version is not None and expected_version != st.state_version:
        emit(ctx, "ERROR", code=STALE_STATE, state_version=st.state_version)
        return state, ctx.events
    if st.status != "active":
        emit(ctx, "ERROR", code=GAME_NOT_ACTIVE)
        return state, ctx.events
    if actions:
        ctx = apply_actions(ctx, actions)
        st = ctx.st
    if not auto and any(p.status == "pending" for p in st.pending_cards):
        emit(ctx, "ERROR", code=CARDS_PENDING)
        return st, ctx.events
    _step(ctx)
    return ctx.st, ctx.events


def _step(ctx: Ctx) -> None:
    st = ctx.st
    accounts.record_daily_balances(st.accounts)
    if is_month_end(st.year, st.month, st.day):
        monthend.month_end(ctx)
        if st.month == 12:
            monthend.year_end(ctx)
    st.year, st.month, st.day = next_date(st.year, st.month, st.day)
    st.day_number += 1
    st.day_counts = {}
    _open_day(ctx)
    st.state_version += 1
    emit(ctx, "DAY_ADVANCED", date=iso(st.year, st.month, st.day))


def _open_day(ctx: Ctx) -> None:
    st = ctx.st
    if st.day == 1:
        events.schedule_month(ctx)
    accounts.daily_cash(ctx)
    creditcard.daily_cards(ctx)
    loans.daily_bnpl(ctx)
    invest.fill_orders(ctx)
    cards.fire_chains(ctx)
    events.fire_due(ctx)
    cards.expire_due(ctx)
    accounts.update_goals(ctx)
    bonus = 0
    if st.day_number % 7 == 0:
        bonus = _weekly(ctx)
    deck.deal_daily(ctx, bonus)
    award_xp(ctx, DAY_ADVANCE_XP)


def _weekly(ctx: Ctx) -> int:
    st = ctx.st
    st.week_counts = {}
    decay = ctx.diff.happiness_decay_tenths
    st.happiness = max(50, st.happiness - decay)
    emit(ctx, "WEEKLY_SUMMARY", happiness=st.happiness // 10,
         budget=dict(sorted(st.actuals.items())))  # fmt: skip
    return 1


def run_month_end(state: GameState, content: Content) -> tuple[GameState, dict[str, Any]]:
    """Month-end for one game on a copy (used by batch jobs and the benchmark)."""
    st = clone(state)
    ctx = make_ctx(st, content)
    report = monthend.month_end(ctx)
    if st.month == 12:
        monthend.year_end(ctx)
    return st, report
