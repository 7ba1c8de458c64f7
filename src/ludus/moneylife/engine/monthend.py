"""Month-end, quarter-end and year-end cycles.

Month-end runs the brief's 13 steps in order: (1) salary (2) bills and
premiums (3) card statement (4) card auto-pay — taken on the due date, see
creditcard.py (5) savings interest (6) loan interest and payments
(7) revalue investments (8) inflation (9) CHI (10) report (11) level-up check
(12) MONTH_END event (13) bankruptcy check. Credits land before debits; debits
go in priority housing → secured loans (auto first) → unsecured loans →
insurance → utilities → subscriptions → other.
"""

from __future__ import annotations

from typing import Any

from . import accounts, bankruptcy, budget, credit, creditcard, insurance, invest, loans
from .calendar import iso
from .cards import change_happiness
from .deck import present
from .ledger import (
    Ctx,
    asset_flow,
    cash_account,
    debt_total,
    emit,
    flow,
    investments_value,
    move,
    net_worth,
    pay_cash,
    savings_total,
)
from .money import div_round, inflate_micros, micros_to_cents
from .progression import award_coins, award_xp, level_up_check
from .rng import Stream
from .state import Account, Bill, MonthStats

_ORDER = {"housing": 0, "insurance": 3, "utilities": 4, "subscriptions": 6, "other": 7}
_LOAN_ORDER = {"auto_loan": 1, "mortgage": 1, "student_loan": 2, "personal_loan": 2}
BURNOUT_CARD = "LIFE-BURNOUT"


def month_end(ctx: Ctx) -> dict[str, Any]:
    st = ctx.st
    stream = Stream(st.seed, "month", f"{st.year}-{st.month}")
    _salary(ctx, stream)  # 1
    _bills(ctx, stream)  # 2
    creditcard.statement(ctx)  # 3 (4: auto-pay on the due date)
    accounts.month_end_deposits(ctx)  # 5
    for loan in st.accounts:  # 6
        if loan.type in _LOAN_ORDER and loan.status != "closed":
            loans.book_month(ctx, loan)
    invest.revalue(ctx)  # 7
    _depreciate_car(ctx)
    _inflation(ctx)  # 8
    credit.recompute_chi(ctx)  # 9
    report = _report(ctx)  # 10
    st.progress.month += 1
    if level_up_check(ctx):  # 11
        creditcard.raise_limits(ctx)
        report["level_up"] = True
    report["level"] = st.level
    emit(ctx, "MONTH_END", month=report["month"], report=report)  # 12
    if bankruptcy.check(ctx):  # 13
        report["bankruptcy"] = True
    bankruptcy.recovery_tick(ctx)
    if st.month % 3 == 0:
        _quarter(ctx)
    st.last_report = report
    st.months_played += 1
    _reset_month(ctx)
    return report


def _salary(ctx: Ctx, stream: Stream) -> None:
    st = ctx.st
    cash = cash_account(st)
    salary = st.monthly_income
    if ctx.persona.income_variable:
        var = ctx.diff.income_variance_bp
        salary += div_round(salary * stream.between(-var, var), 10_000)
    if st.job_loss_months > 0:
        st.job_loss_months -= 1
        disability = insurance.active_policy(ctx, "disability")
        salary = div_round(salary * 60, 100) if disability else 0
    total = salary + st.partner_income
    flow(ctx, cash, total, "income", "")
    garnish = [a for a in st.accounts if a.in_collections and a.balance > 0]
    if garnish and total > 0:
        # Collections: 25 % of income goes to the debt in collections.
        take = min(div_round(total, 4), garnish[0].balance, max(0, cash.balance))
        if take:
            move(ctx, cash, garnish[0], take, "garnishment")
    st.months_since_raise += 1
    lo, hi = ctx.persona.raise_range_bp
    if hi and st.months_since_raise >= ctx.diff.raise_every_months and st.job_loss_months == 0:
        st.months_since_raise = 0
        pct = stream.between(lo, hi)
        if st.happiness < 300:
            pct //= 2
        st.monthly_income += div_round(st.monthly_income * pct, 10_000)
        emit(ctx, "RAISE", pct_bp=pct, income=st.monthly_income)


def _bill_amount(bill: Bill, stream: Stream) -> int:
    amount = micros_to_cents(bill.base_micros)
    if bill.variable == "utility":
        return div_round(amount * stream.between(85, 125), 100)
    if bill.variable == "groceries":
        return div_round(amount * stream.between(85, 120), 100)
    return amount


def _bills(ctx: Ctx, stream: Stream) -> None:
    st = ctx.st
    queue: list[tuple[int, int, str, object]] = []
    for n, bill in enumerate(st.bills):
        if bill.active:
            queue.append((_ORDER[bill.priority], n, "bill", bill))
    for n, loan in enumerate(st.accounts):
        if loan.type in _LOAN_ORDER and loan.status != "closed" and loan.balance > 0:
            rank = 0 if loan.type == "auto_loan" else 1
            queue.append((_LOAN_ORDER[loan.type], n * 2 + rank, "loan", loan))
    for n, policy in enumerate(st.policies):
        if policy.status == "active" and policy.premium:
            queue.append((3, n, "policy", policy))
    for per in ctx.persona.periodic:
        if st.months_played % per.every_months == 0:
            _periodic(ctx, per.name, per.category, int(per.amount * 100),
                      int(per.loan_disbursement * 100))  # fmt: skip
    queue.sort(key=lambda q: (q[0], q[1]))
    for _, _, kind, item in queue:
        if kind == "bill":
            assert isinstance(item, Bill)
            _pay_bill(ctx, item, _bill_amount(item, stream))
        elif kind == "loan":
            assert isinstance(item, Account)
            loans.collect(ctx, item)
        else:
            insurance.charge_premium(ctx, item)  # type: ignore[arg-type]


def _pay_bill(ctx: Ctx, bill: Bill, amount: int) -> None:
    st = ctx.st
    if pay_cash(ctx, amount, "bill", bill.category):
        if bill.unpaid_months:
            bill.unpaid_months = 0
        return
    bill.unpaid_months += 1
    st.month_stats.missed_any = True
    credit.record_late(st, bill.unpaid_months)
    emit(ctx, "BILL_MISSED", bill=bill.id, amount=amount)
    if bill.priority == "utilities" and bill.unpaid_months >= 2:
        bill.active = False
        change_happiness(ctx, -10)
        emit(ctx, "UTILITIES_CUT", bill=bill.id)


def _periodic(ctx: Ctx, name: str, category: str, amount: int, disbursement: int) -> None:
    st = ctx.st
    cash = cash_account(st)
    if disbursement:
        student = next((a for a in st.accounts if a.type == "student_loan"
                        and a.status != "closed"), None)  # fmt: skip
        if student is not None:
            move(ctx, student, cash, disbursement, "loan_disbursement")
    if not pay_cash(ctx, amount, name, category):
        st.month_stats.missed_any = True
        emit(ctx, "BILL_MISSED", bill=name, amount=amount)


def _depreciate_car(ctx: Ctx) -> None:
    st = ctx.st
    if not st.car_price:
        return
    years = max(0, (st.day_number - st.car_day) // 365)
    target = div_round(st.car_price * 85**years, 100**years)
    if target != st.car_value:
        asset_flow(ctx, target - st.car_value, "depreciation")
        st.car_value = target


def _inflation(ctx: Ctx) -> None:
    st = ctx.st
    bp = ctx.diff.inflation_bp
    for bill in st.bills:
        bill.base_micros = inflate_micros(bill.base_micros, bp)
    st.inflation_ppm = inflate_micros(st.inflation_ppm, bp)


def recurring_expenses(ctx: Ctx) -> int:
    st = ctx.st
    total = sum(micros_to_cents(b.base_micros) for b in st.bills if b.active)
    total += sum(p.premium for p in st.policies if p.status == "active")
    for acc in st.accounts:
        if acc.type in _LOAN_ORDER and acc.status != "closed" and not acc.deferred:
            total += acc.monthly_payment + acc.extra_monthly
    return total


def _report(ctx: Ctx) -> dict[str, Any]:
    st = ctx.st
    ms = st.month_stats
    st.recurring_expenses = recurring_expenses(ctx)
    score = budget.month_score(st.allocations, st.actuals)
    st.budget_score = score
    st.budget_penalty = score < 40
    xp_base, coin_base = budget.rewards_for(score)
    award_xp(ctx, xp_base)
    award_coins(ctx, coin_base)
    pr = st.progress
    pr.budget_good_months = pr.budget_good_months + 1 if score >= 60 else 0
    if ms.missed_any:
        st.ontime_months = 0
    else:
        st.ontime_months += 1
        if st.ontime_months % 6 == 0:
            st.payment_history = min(100, st.payment_history + 10)
    worth = net_worth(st)
    st.net_worth = worth
    st.neg_worth_months = st.neg_worth_months + 1 if worth < 0 else 0
    st.stressed = st.neg_worth_months >= 2 or st.chi < 500
    if st.stressed:
        change_happiness(ctx, -10)
    if st.happiness < 200 and BURNOUT_CARD in ctx.content.cards:
        present(ctx, ctx.content.cards[BURNOUT_CARD], Stream(st.seed, "burnout", st.day_number))
    return {
        "month": iso(st.year, st.month, 1)[:7],
        "income_total": ms.income,
        "expense_total": ms.expenses,
        "savings_change": savings_total(st) - ms.start_savings,
        "investment_change": investments_value(st) - ms.start_investments,
        "debt_change": debt_total(st) - ms.start_debt,
        "net_worth": worth,
        "net_worth_change": worth - ms.start_net_worth,
        "flows": ms.flows,
        "chi_score": st.chi,
        "chi_breakdown": dict(st.chi_parts),
        "budget_score": score,
        "allocations": dict(sorted(st.allocations.items())),
        "actuals": dict(sorted(st.actuals.items())),
        "xp_earned": ms.xp,
        "coins_earned": ms.coins,
        "happiness": st.happiness // 10,
        "highlights": list(ms.highlights),
    }


def _quarter(ctx: Ctx) -> None:
    st = ctx.st
    emit(ctx, "INSURANCE_REVIEW", policies=len([p for p in st.policies if p.status == "active"]))
    if st.level >= 5:
        emit(ctx, "TAX_PREVIEW", retirement_contributions=st.retirement_year)


def year_end(ctx: Ctx) -> None:
    """Tax filing (L5+), salary review event, insurance renewal, card fees."""
    st = ctx.st
    if st.level >= 5:
        rate = ctx.content.regions[st.currency].tax_rate_bp
        refund = div_round(st.retirement_year * rate, 10_000)
        if refund:
            flow(ctx, cash_account(st), refund, "refund")
        award_xp(ctx, 100, "taxes")
        emit(ctx, "TAX_FILED", refund=refund)
    st.retirement_year = 0
    emit(ctx, "SALARY_REVIEW", income=st.monthly_income)
    insurance.renew(ctx)
    creditcard.year_end_cards(ctx)


def _reset_month(ctx: Ctx) -> None:
    st = ctx.st
    st.actuals = {}
    st.month_stats = MonthStats(
        start_net_worth=net_worth(st),
        start_savings=savings_total(st),
        start_investments=investments_value(st),
        start_debt=debt_total(st),
    )
