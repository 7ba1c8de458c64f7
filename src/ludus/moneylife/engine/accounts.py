"""Checking, prepaid and savings accounts: transfers, overdraft, interest, goals."""

from __future__ import annotations

from .errors import (
    ACCOUNT_NOT_FOUND,
    BALANCE_CAP,
    INSUFFICIENT_FUNDS,
    INVALID_ACTION,
    INVALID_AMOUNT,
    LIMIT_EXCEEDED,
    LOCKED,
    NOT_FOUND,
    ActionError,
)
from .ledger import (
    BALANCE_CAP as CAP,
)
from .ledger import (
    Ctx,
    accounts_of,
    emit,
    find_account,
    flow,
    move,
    new_id,
)
from .money import MICROS_PER_CENT, daily_interest_micros, div_round, savings_interest_micros
from .progression import award_xp
from .state import Account, Goal

FREE_WITHDRAWALS = 6
WITHDRAWAL_FEE = 1_000
LOW_BALANCE_FEE = 500
LOW_BALANCE_FLOOR = 10_000
OVERDRAFT_FEE = 3_500
OVERDRAFT_APR_BP = 1_800
OVERDRAFT_REVOKE_DAYS = 30
CHECKING_APY_BP = 1
MAX_TRANSFER = 10_000_000
MAX_TRANSFERS_PER_DAY = 10
DEPOSIT_XP_PER_DAY = 3
MAX_SAVINGS_ACCOUNTS = 3
MAX_GOALS_PER_ACCOUNT = 5
MAX_GOALS = 15
CAPPED = ("checking", "savings", "prepaid")


def require_account(ctx: Ctx, account_id: str) -> Account:
    acc = find_account(ctx.st, account_id)
    if acc is None or acc.status == "closed":
        raise ActionError(ACCOUNT_NOT_FOUND, account_id)
    return acc


def withdrawal_fee(acc: Account) -> int:
    return WITHDRAWAL_FEE if acc.type == "savings" and acc.withdrawals >= FREE_WITHDRAWALS else 0


def transfer(ctx: Ctx, src_id: str, dst_id: str, amount: int) -> dict[str, int]:
    st = ctx.st
    src, dst = require_account(ctx, src_id), require_account(ctx, dst_id)
    if amount <= 0 or amount > MAX_TRANSFER or src is dst:
        raise ActionError(INVALID_AMOUNT, "transfer amount out of range")
    if st.day_counts.get("transfer", 0) >= MAX_TRANSFERS_PER_DAY:
        raise ActionError(LIMIT_EXCEEDED, "10 transfers per game day")
    if src.type not in CAPPED or dst.type not in CAPPED:
        raise ActionError(INVALID_ACTION, "use payments or orders for this account type")
    if src.status == "frozen" or dst.status == "frozen":
        raise ActionError(LOCKED, "account frozen")
    fee = withdrawal_fee(src)
    if src.balance < amount + fee:
        raise ActionError(INSUFFICIENT_FUNDS, "balance too low")
    if dst.balance + amount > CAP:
        raise ActionError(BALANCE_CAP, "balance cap of 1,000,000")
    move(ctx, src, dst, amount)
    if fee:
        flow(ctx, src, -fee, "fee", "misc")
    if src.type == "savings":
        src.withdrawals += 1
        st.actuals["savings"] = max(0, st.actuals.get("savings", 0) - amount)
    st.day_counts["transfer"] = st.day_counts.get("transfer", 0) + 1
    if dst.type == "savings":
        st.actuals["savings"] = st.actuals.get("savings", 0) + amount
        deposits = st.day_counts.get("deposit_xp", 0)
        if deposits < DEPOSIT_XP_PER_DAY:
            st.day_counts["deposit_xp"] = deposits + 1
            award_xp(ctx, 5, "deposit")
    update_goals(ctx)
    return {"from_balance": src.balance, "to_balance": dst.balance}


def enable_overdraft(ctx: Ctx) -> None:
    st = ctx.st
    checking = accounts_of(st, "checking")
    if not checking or st.level < 3 or st.bankruptcy_active:
        raise ActionError(LOCKED, "overdraft needs a checking account and level 3")
    checking[0].overdraft = True


def daily_cash(ctx: Ctx) -> None:
    """Overdraft episode handling and daily interest on an overdrawn balance."""
    st = ctx.st
    for acc in st.accounts:
        if acc.type != "checking" and acc.type != "prepaid":
            continue
        if acc.balance >= 0:
            if acc.overdraft_since >= 0:
                emit(ctx, "OVERDRAFT_CURED", account=acc.id)
            acc.overdraft_since = -1
            continue
        if acc.overdraft_since < 0:
            acc.overdraft_since = st.day_number
        if not acc.overdraft:
            continue  # a small bill at zero, or a revoked overdraft: no fees or interest
        acc.pending_interest -= daily_interest_micros(-acc.balance, OVERDRAFT_APR_BP)
        days = st.day_number - acc.overdraft_since
        if not acc.overdraft_fee_charged and days >= ctx.diff.overdraft_grace_days and days > 0:
            acc.overdraft_fee_charged = True
            flow(ctx, acc, -OVERDRAFT_FEE, "fee", "misc")
        if days >= OVERDRAFT_REVOKE_DAYS:
            acc.overdraft = False
            emit(ctx, "OVERDRAFT_REVOKED", account=acc.id)


def record_daily_balances(st_accounts: list[Account]) -> None:
    for acc in st_accounts:
        t = acc.type
        if t == "credit_card" or t == "savings" or t == "checking" or t == "prepaid":
            if acc.balance > 0:
                acc.adb_sum += acc.balance
            acc.adb_days += 1


def _post_micros(ctx: Ctx, acc: Account, kind: str) -> None:
    """Post whole cents of accrued interest and keep the sub-cent rest parked."""
    cents = div_round(acc.pending_interest, MICROS_PER_CENT)
    if acc.type in CAPPED and cents > 0:
        cents = min(cents, max(0, CAP - acc.balance))
    if cents:
        acc.pending_interest -= cents * MICROS_PER_CENT
        flow(ctx, acc, cents, kind, "" if cents > 0 else "misc")


def month_end_deposits(ctx: Ctx) -> None:
    """Step 5: savings (and checking) interest on ADB, low-balance fee, counters."""
    apy = ctx.diff.savings_apy_bp
    for acc in ctx.st.accounts:
        if acc.status == "closed" or acc.type not in CAPPED:
            continue
        days = acc.adb_days
        if days and acc.adb_sum:
            rate = apy if acc.type == "savings" else CHECKING_APY_BP
            adb_micros = div_round(acc.adb_sum * MICROS_PER_CENT, days)
            acc.pending_interest += savings_interest_micros(adb_micros, rate)
        _post_micros(ctx, acc, "interest")
        acc.adb_sum = acc.adb_days = 0
        if acc.type == "savings":
            if 0 < acc.balance < LOW_BALANCE_FLOOR:
                flow(ctx, acc, -min(LOW_BALANCE_FEE, acc.balance), "fee", "misc")
            acc.withdrawals = 0


def open_savings(ctx: Ctx) -> Account:
    if len(accounts_of(ctx.st, "savings")) >= MAX_SAVINGS_ACCOUNTS:
        raise ActionError(LIMIT_EXCEEDED, "at most 3 savings accounts")
    acc = Account(new_id(ctx.st, "acc"), "savings", opened_day=ctx.st.day_number)
    ctx.st.accounts.append(acc)
    return acc


def create_goal(ctx: Ctx, account_id: str, name: str, target: int, deadline_day: int) -> Goal:
    st = ctx.st
    acc = require_account(ctx, account_id)
    if acc.type != "savings":
        raise ActionError(INVALID_ACTION, "goals live on savings accounts")
    if not 1_000 <= target <= 50_000_000:
        raise ActionError(INVALID_AMOUNT, "goal target must be 10–500,000")
    if deadline_day >= 0 and deadline_day < st.day_number + 7:
        raise ActionError(INVALID_ACTION, "deadline must be at least 7 days out")
    active = [g for g in st.goals if g.status != "abandoned"]
    if len(active) >= MAX_GOALS or sum(g.account_id == acc.id for g in active) >= 5:
        raise ActionError(LIMIT_EXCEEDED, "goal limit reached")
    goal = Goal(new_id(st, "goal"), acc.id, name[:80], target, deadline_day=deadline_day)
    st.goals.append(goal)
    update_goals(ctx)
    return goal


def update_goal(ctx: Ctx, goal_id: str, name: str | None, target: int | None,
                deadline_day: int | None) -> Goal:  # fmt: skip
    goal = next((g for g in ctx.st.goals if g.id == goal_id and g.status == "active"), None)
    if goal is None:
        raise ActionError(NOT_FOUND, goal_id)
    if target is not None and not 1_000 <= target <= 50_000_000:
        raise ActionError(INVALID_AMOUNT, "goal target must be 10–500,000")
    if deadline_day is not None and 0 <= deadline_day < ctx.st.day_number + 7:
        raise ActionError(INVALID_ACTION, "deadline must be at least 7 days out")
    if name is not None:
        goal.name = name[:80]
    if target is not None:
        goal.target = target
    if deadline_day is not None:
        goal.deadline_day = deadline_day
    update_goals(ctx)
    return goal


def delete_goal(ctx: Ctx, goal_id: str) -> None:
    goal = next((g for g in ctx.st.goals if g.id == goal_id and g.status != "abandoned"), None)
    if goal is None:
        raise ActionError(NOT_FOUND, goal_id)
    goal.status = "abandoned"
    update_goals(ctx)


def goal_xp(target: int) -> int:
    return 50 if target < 50_000 else 100 if target < 200_000 else 200


def update_goals(ctx: Ctx) -> None:
    """Savings fill goals in creation order; reaching a target completes the goal."""
    st = ctx.st
    if not st.goals:
        return
    remaining: dict[str, int] = {}
    for acc in st.accounts:
        if acc.type == "savings":
            remaining[acc.id] = max(0, acc.balance)
    for goal in st.goals:
        if goal.status == "abandoned":
            continue
        left = remaining.get(goal.account_id, 0)
        goal.current = min(goal.target, left)
        remaining[goal.account_id] = left - goal.current
        if goal.status == "active" and goal.current >= goal.target:
            goal.status = "completed"
            st.progress.goal_reached = True
            xp = award_xp(ctx, goal_xp(goal.target))
            emit(ctx, "GOAL_REACHED", goal_id=goal.id, xp=xp)
