"""Loans (student, auto, mortgage, personal) and BNPL plans.

Payment M = P·r(1+r)^n/((1+r)^n − 1), r = APR/12; interest = remaining × r
on the exact (micro) balance; the last payment clears the remainder.
Month-end collects instalments in debit priority (step 2) and books interest
and principal at step 6.
"""

from __future__ import annotations

from .calendar import month_index
from .credit import record_collections, record_late
from .creditcard import credit_phase
from .errors import (
    CREDIT_RESTRICTED,
    INSUFFICIENT_FUNDS,
    INVALID_ACTION,
    INVALID_AMOUNT,
    LIMIT_EXCEEDED,
    LOCKED,
    ActionError,
)
from .ledger import (
    Ctx,
    accounts_of,
    cash_account,
    dti_pct_milli,
    emit,
    flow,
    gross_income,
    monthly_debt_payments,
    move,
    new_id,
)
from .money import amortized_payment, div_round, loan_month, pct_of
from .progression import award_xp
from .state import Account, Instalment

PERSONAL_RATES = ((750, 800), (700, 1050), (650, 1400), (600, 1800), (550, 2200))
AUTO_RATES = ((750, 650), (700, 750), (650, 850), (600, 1000))
ORIGINATION_BP = ((750, 100), (700, 200), (650, 300), (600, 400))
LOAN_RULES = {
    # loan type -> (min, max, terms, unlock key, cap)
    "student_loan": (500_000, 5_000_000, (120,), "student_loan", 2),
    "auto_loan": (500_000, 4_000_000, (36, 48, 60), "auto_loan", 1),
    "mortgage": (5_000_000, 50_000_000, (180, 360), "mortgage", 1),
    "personal_loan": (100_000, 2_500_000, (12, 24, 36, 60), "personal_loan", 2),
}
RECOVERY_LOAN_MAX = 50_000
LOAN_CATEGORY = {"mortgage": "housing", "auto_loan": "transport"}
PMI_BP = 50
TAX_ESCROW_BP = 120
HOME_INS_ESCROW_BP = 50
BNPL_FEE = 700
BNPL_APR_BP = 1_500
BNPL_MAX_PLANS = 3


def _tiered(chi: int, table: tuple[tuple[int, int], ...], default: int) -> int:
    for floor, value in table:
        if chi >= floor:
            return value
    return default


def personal_loan_apr(chi: int) -> int | None:
    """APR in bp for a personal loan, or None when refused (CHI < 500)."""
    if chi < 500:
        return None
    return _tiered(chi, PERSONAL_RATES, 2400)


def loan_decision(chi: int, min_chi: int, dti_cap_pct: int, dti_after_milli: int) -> str:
    """'' when approved, else the denial reason."""
    if chi < min_chi:
        return "CHI_TOO_LOW"
    if dti_after_milli > dti_cap_pct * 1000:
        return "DTI_TOO_HIGH"
    return ""


def mortgage_payment(price: int, down: int, years: int) -> dict[str, int]:
    """Monthly P&I + PMI (< 20 % down) + escrow (1.2 % tax, 0.5 % insurance)."""
    loan = price - down
    apr = 450 if years == 30 else 380
    pi = amortized_payment(loan, apr, years * 12)
    pmi = div_round(loan * PMI_BP, 10_000 * 12) if down * 5 < price else 0
    tax = div_round(price * TAX_ESCROW_BP, 10_000 * 12)
    ins = div_round(price * HOME_INS_ESCROW_BP, 10_000 * 12)
    return {"principal_interest": pi, "pmi": pmi, "tax": tax, "insurance": ins,
            "total": pi + pmi + tax + ins, "apr_bp": apr}  # fmt: skip


def _check_common(ctx: Ctx, kind: str, amount: int, term: int) -> None:
    st = ctx.st
    if kind not in LOAN_RULES:
        raise ActionError(INVALID_ACTION, f"unknown loan type {kind}")
    low, high, terms, key, cap = LOAN_RULES[kind]
    phase = credit_phase(ctx)
    if phase == 1 or (phase == 2 and (kind != "personal_loan" or amount > RECOVERY_LOAN_MAX)):
        raise ActionError(CREDIT_RESTRICTED, "bankruptcy recovery limits new credit")
    small_recovery = phase == 2 and amount <= RECOVERY_LOAN_MAX
    if not (low <= amount <= high or small_recovery) or term not in terms:
        raise ActionError(INVALID_AMOUNT, "amount or term out of range")
    unlock = ctx.persona.unlocks.get(key)
    if unlock is None or st.level < unlock:
        raise ActionError(LOCKED, f"{kind} not unlocked")
    if len(accounts_of(st, kind)) >= cap:
        raise ActionError(LIMIT_EXCEEDED, f"at most {cap} {kind}")


def apply_loan(ctx: Ctx, kind: str, amount: int, term: int, price: int = 0,
               down: int = 0) -> dict[str, object]:  # fmt: skip
    """Validate, record the inquiry, decide; an approved loan is disbursed."""
    st = ctx.st
    if kind in ("auto_loan", "mortgage"):
        if price <= 0 or down < 0 or amount != price - down:
            raise ActionError(INVALID_AMOUNT, "amount must equal price minus down payment")
        min_down = price // 10 if kind == "auto_loan" else price // 20
        if down < min_down:
            raise ActionError(INVALID_AMOUNT, "down payment too small")
        if cash_account(st).balance < down:
            raise ActionError(INSUFFICIENT_FUNDS, "cannot cover the down payment")
        if kind == "auto_loan" and st.car_value:
            raise ActionError(LIMIT_EXCEEDED, "already own a car")
        if kind == "mortgage" and st.home_value:
            raise ActionError(LIMIT_EXCEEDED, "already own a home")
    _check_common(ctx, kind, amount, term)
    st.inquiries.append(month_index(st.year, st.month))
    chi = st.chi
    surcharge = 300 if credit_phase(ctx) == 3 else 0
    extra = 0
    if kind == "personal_loan":
        apr = personal_loan_apr(chi)
        if apr is None:
            return {"approved": False, "denial_reason": "CHI_TOO_LOW"}
    elif kind == "auto_loan":
        apr = _tiered(chi, AUTO_RATES, 1200)
    elif kind == "mortgage":
        terms = mortgage_payment(price, down, term // 12)
        apr = terms["apr_bp"]
        extra = terms["total"] - terms["principal_interest"]
    else:
        apr = 550
    apr += surcharge
    payment = amortized_payment(amount, apr, term)
    exclude_student = kind in ("auto_loan", "mortgage")
    income = gross_income(st)
    after = monthly_debt_payments(st, exclude_student) + payment + extra
    dti_after = dti_pct_milli(after, income)
    reason = "" if kind == "student_loan" else loan_decision(
        chi, ctx.diff.loan_min_chi, ctx.diff.dti_cap_pct, dti_after
    )  # fmt: skip
    if reason:
        emit(ctx, "LOAN_DENIED", loan_type=kind, reason=reason)
        return {"approved": False, "denial_reason": reason}
    loan = Account(new_id(st, "acc"), kind, opened_day=st.day_number, apr_bp=apr,
                   principal=amount, monthly_payment=payment, term_months=term,
                   extra_monthly=extra)  # fmt: skip
    st.accounts.append(loan)
    cash = cash_account(st)
    if kind == "auto_loan":
        cash.balance -= down
        st.car_price = st.car_value = price
        st.car_day = st.day_number
        loan.balance = amount
    elif kind == "mortgage":
        cash.balance -= down
        st.home_value = price
        loan.balance = amount
        st.progress.home_dti_ok = dti_after <= 30_000
    else:
        move(ctx, loan, cash, amount, "loan_disbursement")
        if kind == "personal_loan":
            fee = pct_of(amount, _tiered(chi, ORIGINATION_BP, 500))
            flow(ctx, cash, -fee, "fee", "debt")
    emit(ctx, "LOAN_APPROVED", account=loan.id, loan_type=kind, amount=amount, apr_bp=apr,
         payment=payment + extra)  # fmt: skip
    return {"approved": True, "account_id": loan.id, "apr_bp": apr, "monthly_payment": payment,
            "extra_monthly": extra}  # fmt: skip


def loan_due(loan: Account) -> int:
    """Principal-and-interest due this month (the last payment clears the rest)."""
    if loan.balance <= 0 or loan.deferred:
        return 0
    interest, _, _ = loan_month(loan.balance, loan.residual, loan.apr_bp, 0)
    return min(loan.monthly_payment, loan.balance + interest)


def collect(ctx: Ctx, loan: Account) -> bool:
    """Step 2: take this month's instalment (plus escrow/PMI) if cash allows."""
    due = loan_due(loan)
    if due == 0:
        return True
    cash = cash_account(ctx.st)
    if cash.balance < due + loan.extra_monthly:
        return False
    if loan.extra_monthly:
        flow(ctx, cash, -loan.extra_monthly, "escrow", "housing")
    move(ctx, cash, loan, due, "loan_payment")
    loan.collected = due
    # Loan payments count toward the budget category they belong to.
    cat = LOAN_CATEGORY.get(loan.type, "debt")
    ctx.st.actuals[cat] = ctx.st.actuals.get(cat, 0) + due
    return True


def book_month(ctx: Ctx, loan: Account) -> None:
    """Step 6: interest on the pre-payment balance; late handling if not collected."""
    st = ctx.st
    if loan.balance <= 0 and loan.collected == 0:
        return
    paid = loan.collected
    pre = loan.balance + paid
    _, new_bal, residual = loan_month(pre, loan.residual, loan.apr_bp, paid)
    loan.residual = residual
    flow(ctx, loan, -(new_bal - loan.balance), "interest", "debt")
    loan.collected = 0
    if loan.deferred:
        return
    if paid:
        loan.months_paid += 1
        loan.missed = 0
        award_xp(ctx, 10, "bills")
        if loan.balance <= 0:
            loan.balance = 0
            loan.status = "closed"
            award_xp(ctx, 100 + min(200, loan.principal // 100_000))
            emit(ctx, "LOAN_PAID_OFF", account=loan.id)
        return
    loan.missed += 1
    st.month_stats.missed_any = True
    fee = pct_of(loan.monthly_payment, 500)
    if loan.type == "personal_loan":
        fee = max(fee, 1_500)
    flow(ctx, loan, -fee, "fee", "debt")
    record_late(st, loan.missed)
    emit(ctx, "LOAN_MISSED", account=loan.id, missed=loan.missed)
    if loan.missed >= 3 and not loan.in_collections:
        loan.in_collections = True
        record_collections(st)
        emit(ctx, "COLLECTIONS", account=loan.id)
    if loan.type == "auto_loan" and loan.missed >= 3:
        seize(ctx, loan, "car")
    elif loan.type == "mortgage" and loan.missed >= 6:
        seize(ctx, loan, "home")


def seize(ctx: Ctx, loan: Account, asset: str) -> None:
    """Repossession / foreclosure: the asset's value pays down the loan."""
    st = ctx.st
    value = st.car_value if asset == "car" else st.home_value
    if asset == "car":
        st.car_value = st.car_price = 0
        st.car_day = -1
    else:
        st.home_value = 0
    applied = min(value, loan.balance)
    loan.balance -= applied
    cash_account(st).balance += value - applied
    loan.extra_monthly = 0
    if loan.balance == 0:
        loan.status = "closed"
    emit(ctx, "REPOSSESSION" if asset == "car" else "FORECLOSURE", account=loan.id, value=value)


def bnpl_purchase(ctx: Ctx, amount: int, plan: str, category: str) -> Account:
    st = ctx.st
    unlock = ctx.persona.unlocks.get("bnpl")
    if unlock is None or st.level < unlock or credit_phase(ctx) in (1, 2):
        raise ActionError(LOCKED, "BNPL not available")
    cap = 100_000 + 50_000 * max(0, st.level - 3)
    if not 0 < amount <= cap or plan not in ("4x", "12m"):
        raise ActionError(INVALID_AMOUNT, "BNPL amount or plan invalid")
    if sum(1 for a in accounts_of(st, "bnpl") if a.balance > 0) >= BNPL_MAX_PLANS:
        raise ActionError(LIMIT_EXCEEDED, "at most 3 BNPL plans")
    cash = cash_account(st)
    first = amount // 4 if plan == "4x" else 0
    if cash.balance < first:
        raise ActionError(INSUFFICIENT_FUNDS, "cannot cover the first instalment")
    acc = Account(new_id(st, "acc"), "bnpl", opened_day=st.day_number)
    day = st.day_number
    if plan == "4x":
        parts = [amount // 4] * 3 + [amount - 3 * (amount // 4)]
        acc.schedule = [Instalment(day + 14 * i, p) for i, p in enumerate(parts)]
    else:
        acc.apr_bp = BNPL_APR_BP
        acc.monthly_payment = amortized_payment(amount, BNPL_APR_BP, 12)
        acc.schedule = [Instalment(day + 30 * (i + 1), acc.monthly_payment) for i in range(12)]
    st.accounts.append(acc)
    flow(ctx, acc, -amount, "expense", category)
    daily_bnpl(ctx, acc)
    return acc


def daily_bnpl(ctx: Ctx, only: Account | None = None) -> None:
    st = ctx.st
    today = st.day_number
    for acc in [only] if only is not None else st.accounts:
        if acc.type != "bnpl" or acc.balance <= 0:
            continue
        for inst in acc.schedule:
            if inst.paid or inst.due_day > today:
                continue
            if acc.apr_bp and not inst.late:
                interest, _, acc.residual = loan_month(acc.balance, acc.residual, acc.apr_bp, 0)
                flow(ctx, acc, -interest, "interest", "debt")
            amount = min(inst.amount, acc.balance) if inst is not acc.schedule[-1] else acc.balance
            cash = cash_account(st)
            if cash.balance >= amount:
                move(ctx, cash, acc, amount, "bnpl_instalment")
                inst.paid = True
            elif not inst.late:
                inst.late = True
                st.month_stats.missed_any = True
                flow(ctx, acc, -BNPL_FEE, "fee", "debt")
                st.payment_history = max(0, st.payment_history - 15)
                emit(ctx, "BNPL_LATE", account=acc.id)
        if acc.balance <= 0:
            acc.status = "closed"
