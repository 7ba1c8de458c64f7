"""Credit cards: opening, charges, payments, statements, due dates and fees.

Statement on the month's last day, due 21 days later; auto-pay is taken on the
due date (the brief's resolution). Interest = ADB × APR/365 × cycle days on the
full balance unless the previous statement was paid in full.
"""

from __future__ import annotations

from .calendar import month_index
from .credit import record_late, record_on_time
from .errors import (
    CREDIT_RESTRICTED,
    INSUFFICIENT_FUNDS,
    INVALID_ACTION,
    INVALID_AMOUNT,
    LIMIT_EXCEEDED,
    LOCKED,
    ActionError,
)
from .ledger import Ctx, accounts_of, cash_account, emit, flow, move, new_id
from .money import (
    MICROS_PER_CENT,
    card_interest,
    card_minimum_payment,
    daily_interest_micros,
    div_round,
    scale_milli,
)
from .progression import award_xp
from .state import Account

DUE_AFTER_DAYS = 21
LATE_FEE = 3_500
REPEAT_LATE_FEE = 4_500
OVER_LIMIT_FEE = 3_000
REWARDS_FEE = 9_500
CASH_ADVANCE_APR_BP = 2_499
SECURED_LIMIT = 20_000
MAX_CARDS = 2
_LEVEL_MULT_MILLI = {1: 1000, 2: 1000, 3: 1500, 4: 2500, 5: 4000, 6: 6000, 7: 10_000, 8: 16_000}


def chi_limit_factor_milli(chi: int) -> int:
    for floor, milli in ((750, 1300), (700, 1150), (650, 1000), (600, 850)):
        if chi >= floor:
            return milli
    return 700


def formula_limit(base: int, level: int, chi: int) -> int:
    return scale_milli(scale_milli(base, _LEVEL_MULT_MILLI[level]), chi_limit_factor_milli(chi))


def credit_phase(ctx: Ctx) -> int:
    """0 normal; 1 checking/savings only; 2 secured card + small loan; 3 worse rates."""
    st = ctx.st
    if st.bankruptcy_month < 0:
        return 0
    months = month_index(st.year, st.month) - st.bankruptcy_month
    restrict = 18 if st.bankruptcy_count > 1 else 12
    if months < restrict // 2:
        return 1
    if months < restrict:
        return 2
    return 3 if months < 24 else 0


def open_card(ctx: Ctx, secured: bool, rewards: bool) -> Account:
    st = ctx.st
    unlock = ctx.persona.unlocks
    phase = credit_phase(ctx)
    if phase == 1 or (phase == 2 and not secured):
        raise ActionError(CREDIT_RESTRICTED, "bankruptcy recovery limits new credit")
    key = "secured_card" if secured else "credit_card"
    if key not in unlock or st.level < unlock[key]:
        raise ActionError(LOCKED, f"{key} not unlocked")
    if rewards and (secured or st.level < 5):
        raise ActionError(LOCKED, "rewards cards unlock at level 5")
    if len(accounts_of(st, "credit_card")) >= MAX_CARDS:
        raise ActionError(LIMIT_EXCEEDED, "at most 2 cards")
    st.inquiries.append(month_index(st.year, st.month))
    if not secured and st.chi < 650:
        raise ActionError(CREDIT_RESTRICTED, "CHI below 650: secured card only")
    if secured and st.chi < 600 and phase != 2:
        raise ActionError(CREDIT_RESTRICTED, "CHI below 600: card refused")
    cash = cash_account(st)
    card = Account(new_id(st, "acc"), "credit_card", opened_day=st.day_number)
    card.secured = secured
    card.rewards = rewards
    if secured:
        if cash.balance < SECURED_LIMIT:
            raise ActionError(INSUFFICIENT_FUNDS, "secured card needs a 200 deposit")
        card.credit_limit = SECURED_LIMIT
    else:
        base = int(ctx.persona.card_base_limit * 100)
        card.credit_limit = formula_limit(base, st.level, st.chi)
    card.apr_bp = ctx.diff.card_apr_bp + (300 if phase == 3 else 0)
    st.accounts.append(card)
    if secured:
        # The deposit stays the player's money, held as collateral on the card.
        cash.balance -= SECURED_LIMIT
        card.collateral = SECURED_LIMIT
        emit(ctx, "move", **{"from": cash.id, "to": card.id, "amount": SECURED_LIMIT})
    return card


def available_credit(card: Account) -> int:
    return card.credit_limit - card.balance


def charge(ctx: Ctx, card: Account, amount: int, category: str) -> None:
    if card.status != "active" or amount > available_credit(card):
        raise ActionError(INSUFFICIENT_FUNDS, "not enough available credit")
    flow(ctx, card, -amount, "expense", category)


def cash_advance(ctx: Ctx, card: Account, amount: int) -> None:
    if amount <= 0 or amount > available_credit(card) or card.status != "active":
        raise ActionError(INSUFFICIENT_FUNDS, "not enough available credit")
    move(ctx, card, cash_account(ctx.st), amount, "cash_advance")
    card.cash_advance += amount


def pay_card(ctx: Ctx, card: Account, amount: int) -> None:
    cash = cash_account(ctx.st)
    if amount <= 0 or amount > card.balance:
        raise ActionError(INVALID_AMOUNT, "payment must be between 0 and the balance")
    if cash.balance < amount:
        raise ActionError(INSUFFICIENT_FUNDS, "cash balance too low")
    _pay(ctx, cash, card, amount)


def _pay(ctx: Ctx, cash: Account, card: Account, amount: int) -> None:
    move(ctx, cash, card, amount, "card_payment")
    card.paid_since_statement += amount
    card.cash_advance = max(0, card.cash_advance - amount)


def set_autopay(card: Account, setting: str) -> None:
    if setting not in ("none", "minimum", "full"):
        raise ActionError(INVALID_ACTION, "auto-pay must be none, minimum or full")
    card.auto_pay = setting


def daily_cards(ctx: Ctx) -> None:
    """Cash-advance interest accrues daily (no grace); due dates are settled."""
    st = ctx.st
    for card in st.accounts:
        if card.type != "credit_card" or card.status == "closed":
            continue
        if card.cash_advance > 0:
            card.pending_interest += daily_interest_micros(card.cash_advance, CASH_ADVANCE_APR_BP)
        if card.due_day == st.day_number:
            _settle_due(ctx, card)


def _settle_due(ctx: Ctx, card: Account) -> None:
    st = ctx.st
    cash = cash_account(st)
    target = 0
    if card.auto_pay == "full":
        target = card.statement - card.paid_since_statement
    elif card.auto_pay == "minimum":
        target = card.min_due - card.paid_since_statement
    target = min(target, card.balance, max(0, cash.balance))
    if target > 0:
        _pay(ctx, cash, card, target)
    if card.paid_since_statement >= card.min_due:
        card.missed = 0
        record_on_time(st)
        full = card.paid_since_statement >= card.statement
        award_xp(ctx, 20 if full else 8, "bills")
        emit(ctx, "CARD_PAID", account=card.id, full=full)
        return
    card.missed += 1
    st.month_stats.missed_any = True
    fee = REPEAT_LATE_FEE if card.late_this_year else LATE_FEE
    card.late_this_year += 1
    flow(ctx, card, -scale_milli(fee, ctx.diff.late_fee_milli), "fee", "debt")
    record_late(st, card.missed)
    emit(ctx, "CARD_LATE", account=card.id, missed=card.missed)


def statement(ctx: Ctx) -> None:
    """Month-end step 3: interest, over-limit fee, new statement and minimum."""
    st = ctx.st
    for card in st.accounts:
        if card.type != "credit_card" or card.status == "closed":
            continue
        days = card.adb_days or 1
        adb = div_round(card.adb_sum, days)
        paid_full = card.paid_since_statement >= card.statement
        interest = card_interest(adb, card.apr_bp, days, paid_full and card.prev_paid_full)
        card.prev_paid_full = paid_full
        interest += div_round(card.pending_interest, MICROS_PER_CENT)
        card.pending_interest -= div_round(card.pending_interest, MICROS_PER_CENT) * 10_000
        if interest:
            flow(ctx, card, -interest, "interest", "debt")
        if card.balance > card.credit_limit:
            flow(ctx, card, -OVER_LIMIT_FEE, "fee", "debt")
        card.statement = max(0, card.balance)
        card.min_due = card_minimum_payment(card.statement)
        card.due_day = st.day_number + DUE_AFTER_DAYS
        card.paid_since_statement = 0
        card.adb_sum = card.adb_days = 0
        if card.statement == 0:
            card.due_day = -1


def year_end_cards(ctx: Ctx) -> None:
    for card in ctx.st.accounts:
        if card.type == "credit_card" and card.status != "closed":
            card.late_this_year = 0
            if card.rewards:
                flow(ctx, card, -REWARDS_FEE, "fee", "debt")


def raise_limits(ctx: Ctx) -> None:
    """At level-up the limit becomes max(current, formula)."""
    base = int(ctx.persona.card_base_limit * 100)
    for card in accounts_of(ctx.st, "credit_card"):
        if not card.secured:
            card.credit_limit = max(
                card.credit_limit, formula_limit(base, ctx.st.level, ctx.st.chi)
            )


def close_card(ctx: Ctx, card: Account) -> None:
    if card.balance > 0:
        raise ActionError(INVALID_ACTION, "pay the balance before closing")
    if card.collateral:
        cash = cash_account(ctx.st)
        cash.balance += card.collateral
        emit(ctx, "move", **{"from": card.id, "to": cash.id, "amount": card.collateral})
        card.collateral = 0
    card.status = "closed"
