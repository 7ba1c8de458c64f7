"""Creating a game from a persona template, difficulty and region."""

from __future__ import annotations

from typing import Any

from . import deck, events
from .content import Content
from .credit import set_chi_override
from .errors import INVALID_ACTION, ActionError
from .ledger import cash_account, debt_total, investments_value, make_ctx, net_worth, savings_total
from .money import MICROS_PER_CENT, amortized_payment, div_round
from .monthend import recurring_expenses
from .state import Account, Bill, GameState, Goal, LevelProgress, MonthStats, Policy

START_CHI = 650


def _c(value: Any) -> int:
    return int(value * 100)


def create_game(
    content: Content,
    persona: str,
    difficulty: str,
    currency: str,
    seed: int,
    game_id: str = "game",
    start_year: int = 2027,
    start_month: int = 1,
) -> tuple[GameState, list[dict[str, Any]]]:
    if persona not in content.personas or difficulty not in content.difficulties:
        raise ActionError(INVALID_ACTION, "unknown persona or difficulty")
    if currency not in content.regions:
        raise ActionError(INVALID_ACTION, f"unsupported currency {currency}")
    if start_year % 4 == 0 or not 1 <= start_month <= 12:
        raise ActionError(INVALID_ACTION, "games start on the 1st of a month in a non-leap year")
    p = content.personas[persona]
    d = content.difficulties[difficulty]
    st = GameState(game_id, seed, persona, difficulty, currency, content.version,
                   start_year, start_month, 1)  # fmt: skip
    st.monthly_income = _c(p.income)
    st.partner_income = _c(p.partner_income)
    for n, spec in enumerate(p.accounts):
        acc = Account(f"acc-{n + 1}", spec.type, balance=_c(spec.balance),
                      opened_day=-30 * spec.months_open)  # fmt: skip
        if spec.type == "credit_card":
            acc.credit_limit = _c(spec.limit)
            acc.apr_bp = d.card_apr_bp
        st.accounts.append(acc)
    st.next_id = len(st.accounts) + 1
    cash = cash_account(st)
    cash.balance += div_round(_c(p.start_cash) * (100 + d.start_cash_pct), 100)
    for spec_loan in p.loans:
        payment = _c(spec_loan.payment) if spec_loan.payment is not None else amortized_payment(
            _c(spec_loan.balance), spec_loan.apr_bp, spec_loan.term_months
        )  # fmt: skip
        loan = Account(f"acc-{st.next_id}", spec_loan.type, balance=_c(spec_loan.balance),
                       apr_bp=spec_loan.apr_bp, principal=_c(spec_loan.balance),
                       monthly_payment=payment, term_months=spec_loan.term_months,
                       deferred=spec_loan.deferred,
                       opened_day=-30 * spec_loan.months_open)  # fmt: skip
        st.next_id += 1
        st.accounts.append(loan)
    if p.car_price:
        st.car_price = _c(p.car_price)
        st.car_value = div_round(st.car_price * 85**p.car_age_years, 100**p.car_age_years)
        st.car_day = -365 * p.car_age_years
    st.home_value = _c(p.home_value)
    st.bills = [Bill(b.id, b.category, b.priority, _c(b.amount) * MICROS_PER_CENT, b.variable)
                for b in p.bills]  # fmt: skip
    for pol in p.policies:
        ins = content.insurance[pol.type]
        premium = _c(pol.premium)
        st.policies.append(Policy(f"pol-{st.next_id}", pol.type, premium, premium,
                                  _c(ins.deductible), ins.coverage_bp,
                                  payout=_c(ins.payout)))  # fmt: skip
        st.next_id += 1
    savings = next((a for a in st.accounts if a.type == "savings"), None)
    if savings is not None:
        for goal in p.goals:
            st.goals.append(Goal(f"goal-{st.next_id}", savings.id, goal.name, _c(goal.target)))
            st.next_id += 1
    st.allocations = {k: _c(v) for k, v in sorted(p.default_budget.items())}
    set_chi_override(st, START_CHI)
    ctx = make_ctx(st, content)
    st.recurring_expenses = recurring_expenses(ctx)
    st.progress = LevelProgress(start_debt=debt_total(st))
    st.net_worth = net_worth(st)
    st.month_stats = MonthStats(start_net_worth=st.net_worth, start_savings=savings_total(st),
                                start_investments=investments_value(st),
                                start_debt=debt_total(st))  # fmt: skip
    events.schedule_month(ctx)
    deck.deal_daily(ctx)
    return st, ctx.events
