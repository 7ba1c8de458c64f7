"""Bankruptcy detection (month-end step 13), effects and recovery.

Trigger: total debt > 5 × annual income AND minimums missed in each of the
last 3 months (any account counts). A second bankruptcy needs 24 months since
the first. Recovery restrictions live in `creditcard.credit_phase`.
"""

from __future__ import annotations

from .calendar import month_index
from .credit import set_chi_override
from .invest import release_frozen
from .ledger import Ctx, cash_account, debt_total, emit, flow, gross_income
from .loans import seize

DISCHARGED = ("credit_card", "personal_loan", "bnpl")
FREEZE_MONTHS = 6


def is_bankrupt(total_debt: int, monthly_income: int, missed_months: int) -> bool:
    return total_debt > 5 * 12 * monthly_income and missed_months >= 3


def check(ctx: Ctx) -> bool:
    st = ctx.st
    st.missed_streak = st.missed_streak + 1 if st.month_stats.missed_any else 0
    if not is_bankrupt(debt_total(st), gross_income(st), st.missed_streak):
        return False
    now = month_index(st.year, st.month)
    if st.bankruptcy_month >= 0 and now - st.bankruptcy_month < 24:
        return False
    declare(ctx)
    return True


def declare(ctx: Ctx) -> None:
    st = ctx.st
    second = st.bankruptcy_count >= 1
    for acc in st.accounts:
        if acc.status == "closed":
            continue
        if acc.type in DISCHARGED:
            if acc.balance:
                flow(ctx, acc, acc.balance, "discharge")
            acc.schedule = [i for i in acc.schedule if i.paid]
            if acc.collateral:
                cash_account(st).balance += acc.collateral
                acc.collateral = 0
            acc.status = "closed"
        elif acc.type == "student_loan" and not second:
            cut = acc.balance // 2
            flow(ctx, acc, cut, "discharge")
        elif acc.type in ("auto_loan", "mortgage") and acc.missed > 0:
            seize(ctx, acc, "car" if acc.type == "auto_loan" else "home")
        elif acc.type in ("brokerage", "retirement"):
            acc.status = "frozen"
    st.bankruptcy_count += 1
    st.bankruptcy_month = month_index(st.year, st.month)
    st.bankruptcy_active = True
    st.missed_streak = 0
    set_chi_override(st, 300 if second else 350)
    emit(ctx, "BANKRUPTCY", count=st.bankruptcy_count)


def recovery_tick(ctx: Ctx) -> None:
    """Month-end housekeeping: unfreeze investments, end the active flag."""
    st = ctx.st
    if st.bankruptcy_month < 0:
        return
    months = month_index(st.year, st.month) - st.bankruptcy_month
    if months == FREEZE_MONTHS:
        release_frozen(ctx)
    if st.bankruptcy_active and months >= 24:
        st.bankruptcy_active = False
        emit(ctx, "BANKRUPTCY_FLAG_CLEARED")
