"""Monthly random life events and emergencies.

Each month the table is rolled once (stream "events" keyed by month) and
events that fire are scheduled on a uniform day of that month. Emergency
probabilities are scaled by 3 ÷ (difficulty's "one every N months"), so
Normal keeps the table's ~1-in-3 rate; costs scale by the difficulty range.
Happiness above 80 makes good events 1.5× likelier.
"""

from __future__ import annotations

from .calendar import days_in_month, month_index
from .deck import present
from .insurance import log_incident
from .ledger import Ctx, cash_account, emit, flow
from .money import div_round
from .rng import Stream
from .state import ScheduledEvent

GOOD_KINDS = ("raise", "bonus", "inheritance")


def schedule_month(ctx: Ctx) -> None:
    st = ctx.st
    stream = Stream(st.seed, "events", month_index(st.year, st.month))
    length = days_in_month(st.year, st.month)
    every = ctx.diff.emergency_every_months
    low_pct, high_pct = ctx.diff.emergency_cost_pct
    for ev in ctx.content.random_events:
        p = ev.p_bp * 100
        if ev.kind == "emergency":
            p = p * 3 // every
            if st.budget_penalty:
                p = p * 6 // 5  # budget score < 40 → +20 % stress risk
        elif ev.kind in GOOD_KINDS and st.happiness > 800:
            p = p * 3 // 2
        roll = stream.below(1_000_000)
        day_offset = stream.below(length)
        amount = stream.between(int(ev.cost[0] * 100), int(ev.cost[1] * 100))
        pct = stream.between(low_pct, high_pct)
        if roll >= p:
            continue
        if ev.requires == "car" and not st.car_value:
            continue
        if ev.kind == "emergency":
            amount = div_round(amount * pct * ctx.persona.emergency_scale_pct, 10_000)
            amount = amount * st.inflation_ppm // 1_000_000
        st.scheduled.append(ScheduledEvent(ev.id, st.day_number + day_offset, amount))


def fire_due(ctx: Ctx) -> None:
    st = ctx.st
    if not st.scheduled:
        return
    today = st.day_number
    due = [s for s in st.scheduled if s.day <= today]
    if not due:
        return
    st.scheduled = [s for s in st.scheduled if s.day > today]
    by_id = {e.id: e for e in ctx.content.random_events}
    for sched in due:
        ev = by_id[sched.event_id]
        stream = Stream(st.seed, "event-fire", f"{today}:{ev.id}")
        if ev.kind == "emergency":
            cover = "home" if ev.insurance == "renters" and st.home_value else ev.insurance
            incident = log_incident(ctx, ev.id, sched.amount, cover)
            st.month_stats.highlights.append(f"emergency:{ev.id}")
            present(ctx, ctx.content.cards[ev.card], stream, sched.amount, incident.id)
        elif ev.kind == "job_loss":
            st.job_loss_months = max(st.job_loss_months, stream.between(1, 3))
            st.month_stats.highlights.append("job_loss")
            emit(ctx, "JOB_LOSS", months=st.job_loss_months)
        elif ev.kind == "raise":
            pct = stream.between(300, 800)
            st.monthly_income += div_round(st.monthly_income * pct, 10_000)
            emit(ctx, "RAISE", pct_bp=pct, income=st.monthly_income)
        elif ev.kind == "bonus":
            amount = div_round(st.monthly_income * stream.between(50, 200), 100)
            flow(ctx, cash_account(st), amount, "income", "")
            emit(ctx, "BONUS", amount=amount)
        else:
            amount = stream.between(500_000, 5_000_000)
            flow(ctx, cash_account(st), amount, "income", "")
            st.month_stats.highlights.append("inheritance")
            emit(ctx, "INHERITANCE", amount=amount)
