"""Loan schedules, savings growth and future values against numpy-financial, to the cent."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal

import numpy_financial as npf
import pytest

from ludus.moneylife.engine import Content, GameState
from ludus.moneylife.engine.accounts import month_end_deposits
from ludus.moneylife.engine.money import (
    amortization_schedule,
    amortized_payment,
    future_value,
    loan_month,
    monthly_rate_from_apy,
)

from .helpers import ctx_for, first

LOANS = [
    (2_000_000, 650, 48),
    (1_500_000, 550, 120),
    (24_000_000, 450, 360),
    (28_500_000, 380, 180),
    (100_000, 1_500, 12),
    (2_500_000, 2_400, 60),
    (750_000, 1_050, 36),
]


def cents(value: float) -> int:
    return int(Decimal(repr(float(value))).scaleb(2).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def same_cent(ours: int, reference: float) -> bool:
    """Our cent value is the reference rounded to the cent.

    numpy-financial works in binary floats, so an exact half-cent (e.g.
    7321.855) can arrive as 7321.854999…; within half a cent (plus float noise)
    of the reference is what "to the cent" means here.
    """
    return abs(ours / 100 - float(reference)) <= 0.005 + 1e-7


class TestAmortization:
    @pytest.mark.parametrize(("principal", "apr_bp", "months"), LOANS)
    def test_payment_matches_pmt(self, principal: int, apr_bp: int, months: int) -> None:
        rate = apr_bp / 120_000
        assert amortized_payment(principal, apr_bp, months) == cents(
            -npf.pmt(rate, months, principal / 100)
        )

    @pytest.mark.parametrize(("principal", "apr_bp", "months"), LOANS)
    def test_schedule_balances_and_interest(self, principal: int, apr_bp: int, months: int) -> None:
        rate = apr_bp / 120_000
        rows = amortization_schedule(principal, apr_bp, months)
        payment = rows[0][0]
        assert len(rows) == months
        for k, (paid, interest, remaining) in enumerate(rows[:-1], start=1):
            # With the cent-rounded payment, the balance after k payments is -FV.
            expected_remaining = -npf.fv(rate, k, -payment / 100, principal / 100)
            assert same_cent(remaining, expected_remaining), f"month {k}"
            before = -npf.fv(rate, k - 1, -payment / 100, principal / 100)
            assert same_cent(interest, before * rate), f"month {k}"
            assert paid == payment
        assert rows[-1][2] == 0

    def test_first_month_matches_ipmt_ppmt(self) -> None:
        rate = 650 / 120_000
        _, interest, remaining = amortization_schedule(2_000_000, 650, 48)[0]
        assert interest == cents(-npf.ipmt(rate, 1, 48, 20_000))
        assert 2_000_000 - remaining == cents(-npf.ppmt(rate, 1, 48, 20_000))

    def test_last_payment_clears_the_rest(self) -> None:
        rows = amortization_schedule(24_000_000, 450, 360)
        last_payment, last_interest, last_remaining = rows[-1]
        assert last_remaining == 0
        assert abs(last_payment - (rows[-2][2] + last_interest)) <= 1

    def test_engine_ledger_follows_schedule(self) -> None:
        """Month by month, the ledger's balances equal the schedule's to the cent."""
        rows = amortization_schedule(1_500_000, 550, 120)
        balance, residual = 1_500_000, 0
        for paid, interest, remaining in rows[:-1]:
            posted, balance, residual = loan_month(balance, residual, 550, paid)
            assert balance == remaining
            assert abs(posted - interest) <= 1

    def test_zero_interest_loan(self) -> None:
        assert amortized_payment(120_000, 0, 12) == 10_000
        assert loan_month(120_000, 0, 0, 10_000) == (0, 110_000, 0)


class TestSavingsGrowth:
    @pytest.mark.parametrize("apy_bp", [150, 250, 350])
    def test_monthly_rate_matches_apy(self, apy_bp: int) -> None:
        rate = float(monthly_rate_from_apy(apy_bp))
        assert abs((1 + rate) ** 12 - (1 + apy_bp / 10_000)) < 1e-12

    @pytest.mark.parametrize(("deposit", "months", "apy_bp", "start"),
                             [(10_000, 12, 250, 0), (50_000, 60, 350, 100_000),
                              (2_500, 240, 150, 0), (0, 36, 250, 1_000_000)])  # fmt: skip
    def test_future_value_matches_fv(
        self, deposit: int, months: int, apy_bp: int, start: int
    ) -> None:
        rate = float(monthly_rate_from_apy(apy_bp))
        expected = npf.fv(rate, months, -deposit / 100, -start / 100)
        assert future_value(deposit, months, apy_bp, start) == cents(expected)

    @pytest.mark.parametrize("difficulty", ["easy", "normal", "hard"])
    def test_engine_savings_year_matches_fv(self, content: Content,
                                            new_game: Callable[..., GameState],
                                            difficulty: str) -> None:  # fmt: skip
        state = new_game("young_adult", difficulty)
        savings = first(state, "savings")
        savings.balance = 1_000_000
        ctx = ctx_for(state, content)
        for _ in range(12):
            savings.adb_sum, savings.adb_days = savings.balance * 30, 30
            month_end_deposits(ctx)
        rate = float(monthly_rate_from_apy(content.difficulties[difficulty].savings_apy_bp))
        assert savings.balance == cents(npf.fv(rate, 12, 0, -10_000))
