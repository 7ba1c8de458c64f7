"""Posting money: every change of net worth goes through `flow`, every
movement between the player's own accounts through `move`, so the sum of
recorded flows always equals the change in net worth (no money leaks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .content import Content, Difficulty, Persona
from .state import ASSET_TYPES, Account, GameState

BALANCE_CAP = 100_000_000  # 1,000,000 CU on checking and savings
OVERDRAFT_LIMIT = 50_000
SMALL_BILL_AT_ZERO = 500
CASH_TYPES = ("checking", "prepaid")


@dataclass(slots=True)
class Ctx:
    st: GameState
    content: Content
    persona: Persona
    diff: Difficulty
    events: list[dict[str, Any]] = field(default_factory=list)


def make_ctx(st: GameState, content: Content) -> Ctx:
    return Ctx(st, content, content.personas[st.persona], content.difficulties[st.difficulty])


def emit(ctx: Ctx, kind: str, **data: Any) -> None:
    data["type"] = kind
    data["day"] = ctx.st.day_number
    ctx.events.append(data)


def new_id(st: GameState, prefix: str) -> str:
    n = st.next_id
    st.next_id = n + 1
    return f"{prefix}-{n}"


def find_account(st: GameState, account_id: str) -> Account | None:
    for acc in st.accounts:
        if acc.id == account_id:
            return acc
    return None


def accounts_of(st: GameState, kind: str) -> list[Account]:
    return [a for a in st.accounts if a.type == kind and a.status != "closed"]


def cash_account(st: GameState) -> Account:
    """The account salary lands in and bills leave from: checking, else prepaid."""
    fallback = None
    for acc in st.accounts:
        if acc.status == "closed":
            continue
        if acc.type == "checking":
            return acc
        if acc.type == "prepaid" and fallback is None:
            fallback = acc
    if fallback is None:
        raise RuntimeError("game has no cash account")
    return fallback


def is_asset(acc: Account) -> bool:
    return acc.type in ASSET_TYPES


def _apply(acc: Account, delta_nw: int) -> None:
    if acc.type in ASSET_TYPES:
        acc.balance += delta_nw
    else:
        acc.balance -= delta_nw


def flow(ctx: Ctx, acc: Account, delta_nw: int, kind: str, category: str = "") -> None:
    """Change net worth by `delta_nw` through `acc` (income, expense, interest, fee...)."""
    if delta_nw == 0:
        return
    st = ctx.st
    _apply(acc, delta_nw)
    st.flow_total += delta_nw
    ms = st.month_stats
    ms.flows += delta_nw
    if delta_nw > 0:
        if kind == "income":
            ms.income += delta_nw
    elif kind != "market":
        ms.expenses -= delta_nw
        if category:
            st.actuals[category] = st.actuals.get(category, 0) - delta_nw
    ctx.events.append(
        {"type": "txn", "day": st.day_number, "account": acc.id, "amount": delta_nw,
         "kind": kind, "category": category, "balance": acc.balance}
    )  # fmt: skip


def asset_flow(ctx: Ctx, delta_nw: int, kind: str) -> None:
    """Net-worth change that lives outside accounts (car, home, held dividends)."""
    ctx.st.flow_total += delta_nw
    ctx.st.month_stats.flows += delta_nw
    if delta_nw < 0:
        ctx.st.month_stats.expenses -= delta_nw
    ctx.events.append({"type": "txn", "day": ctx.st.day_number, "account": "", "amount": delta_nw,
                       "kind": kind, "category": "", "balance": 0})  # fmt: skip


def move(ctx: Ctx, src: Account, dst: Account, amount: int, kind: str = "transfer") -> None:
    """Move value between the player's own accounts (net worth unchanged)."""
    _apply(src, -amount)
    _apply(dst, amount)
    ctx.events.append({"type": "move", "day": ctx.st.day_number, "from": src.id, "to": dst.id,
                       "amount": amount, "kind": kind})  # fmt: skip


def spendable(acc: Account) -> int:
    head = OVERDRAFT_LIMIT if acc.overdraft else 0
    return acc.balance + head


def can_pay(acc: Account, amount: int) -> bool:
    if amount <= spendable(acc):
        return True
    return acc.balance == 0 and amount <= SMALL_BILL_AT_ZERO


def mark_overdrawn(ctx: Ctx, acc: Account) -> None:
    if acc.balance < 0 and acc.overdraft_since < 0:
        acc.overdraft_since = ctx.st.day_number
        acc.overdraft_fee_charged = False
        ctx.st.progress.overdrawn = True
        emit(ctx, "OVERDRAWN", account=acc.id, balance=acc.balance)


def pay_cash(ctx: Ctx, amount: int, kind: str, category: str) -> bool:
    """Debit the cash account if it (plus overdraft) can cover it; else decline."""
    acc = cash_account(ctx.st)
    if not can_pay(acc, amount):
        return False
    flow(ctx, acc, -amount, kind, category)
    mark_overdrawn(ctx, acc)
    return True


def holdings_value(acc: Account) -> int:
    return sum(h.value for h in acc.holdings)


def investments_value(st: GameState) -> int:
    total = 0
    for acc in st.accounts:
        if acc.type in ("brokerage", "retirement"):
            total += acc.balance + acc.held_dividends
    return total


def savings_total(st: GameState) -> int:
    return sum(a.balance for a in st.accounts if a.type == "savings" and a.status != "closed")


def debt_total(st: GameState) -> int:
    return sum(a.balance for a in st.accounts if a.type not in ASSET_TYPES and a.status != "closed")


def net_worth(st: GameState) -> int:
    total = st.car_value + st.home_value
    for acc in st.accounts:
        if acc.type in ASSET_TYPES:
            total += acc.balance + acc.held_dividends
        else:
            total += acc.collateral - acc.balance
    return total


def gross_income(st: GameState) -> int:
    return st.monthly_income + st.partner_income


def monthly_debt_payments(st: GameState, exclude_student: bool = False) -> int:
    total = 0
    for acc in st.accounts:
        if acc.status == "closed" or acc.balance <= 0:
            continue
        if acc.type in ("auto_loan", "mortgage", "personal_loan"):
            total += acc.monthly_payment + acc.extra_monthly
        elif acc.type == "student_loan" and not exclude_student:
            total += acc.monthly_payment
        elif acc.type == "credit_card":
            total += acc.min_due
        elif acc.type == "bnpl":
            total += sum(i.amount for i in acc.schedule if not i.paid) // max(
                1, sum(1 for i in acc.schedule if not i.paid)
            )
    return total


def dti_pct_milli(payments: int, income: int) -> int:
    """Debt-to-income in thousandths of a percent (40 % → 40,000)."""
    if income <= 0:
        return 10**9 if payments > 0 else 0
    return payments * 100_000 // income
