"""Money arithmetic for the MoneyLife engine.

Units:
- balances are integer cents of the game's currency unit (CU, ~1 USD);
- rates are integer basis points (1 bp = 0.01 %);
- sub-cent accruals are integer micros (1e-6 CU), the brief's "6 dp internally".

Rounding: every rounding step uses ROUND_HALF_EVEN (banker's rounding), which is
the resolution the rules brief picks where the source document disagrees with
itself. Only finalised values (posted interest, payments, displays) are rounded.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import lru_cache

MICROS_PER_CENT = 10_000
CENTS_PER_CU = 100
_CTX = Context(prec=40, rounding=ROUND_HALF_EVEN)


def div_round(num: int, den: int) -> int:
    """Integer division rounded half-even (den > 0)."""
    q, r = divmod(num, den)
    twice = 2 * r
    if twice > den or (twice == den and q & 1):
        q += 1
    return q


def cu(amount: int | str | Decimal) -> int:
    """Whole or decimal CU amount to cents."""
    return int((Decimal(amount) * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def to_decimal(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def micros_to_cents(micros: int) -> int:
    return div_round(micros, MICROS_PER_CENT)


def pct_of(cents: int, bp: int) -> int:
    """`bp` basis points of `cents`, rounded half-even to the cent."""
    return div_round(cents * bp, 10_000)


def _dec_to_cents(value: Decimal) -> int:
    return int(_CTX.quantize(value * 100, Decimal(1)))


def amortized_payment(principal: int, apr_bp: int, months: int) -> int:
    """M = P·r(1+r)^n / ((1+r)^n − 1), r = APR/12; cents, half-even."""
    if months <= 0:
        raise ValueError("months must be positive")
    if apr_bp == 0:
        return div_round(principal, months)
    r = _CTX.divide(Decimal(apr_bp), Decimal(120_000))
    g = _CTX.power(_CTX.add(Decimal(1), r), months)
    pay = _CTX.divide(_CTX.multiply(_CTX.multiply(Decimal(principal), r), g), g - 1)
    return int(_CTX.quantize(pay, Decimal(1)))


def loan_month(balance: int, residual: int, apr_bp: int, payment: int) -> tuple[int, int, int]:
    """One amortisation month on an exact (micro) balance.

    Returns (interest_cents, new_balance_cents, new_residual_micros). Interest is
    computed on the unrounded balance so long schedules do not drift; the posted
    interest is whatever keeps the cent balance consistent.
    """
    exact = balance * MICROS_PER_CENT + residual
    interest_m = div_round(exact * apr_bp, 120_000)
    new_exact = exact + interest_m - payment * MICROS_PER_CENT
    new_balance = div_round(new_exact, MICROS_PER_CENT)
    interest = new_balance - balance + payment
    return interest, new_balance, new_exact - new_balance * MICROS_PER_CENT


def amortization_schedule(principal: int, apr_bp: int, months: int) -> list[tuple[int, int, int]]:
    """Rows of (payment, interest, remaining) in cents; the last payment clears the rest.

    Interest is remaining × r on the exact (Decimal) balance, rounded
    half-even, and `remaining` is the exact balance rounded: both match
    numpy-financial to the cent. The ledger (`loan_month`) posts interest as
    the change of the rounded balance instead, so a month's posted interest
    can differ from this figure by one cent while balances always agree.
    """
    pay = amortized_payment(principal, apr_bp, months)
    rate = _CTX.divide(Decimal(apr_bp), Decimal(120_000))
    rows: list[tuple[int, int, int]] = []
    exact = Decimal(principal)
    one = Decimal(1)
    for k in range(months):
        interest_exact = _CTX.multiply(exact, rate)
        interest = int(_CTX.quantize(interest_exact, one))
        if k == months - 1:
            rows.append((int(_CTX.quantize(exact + interest_exact, one)), interest, 0))
            break
        exact = _CTX.add(exact, interest_exact) - pay
        rows.append((pay, interest, int(_CTX.quantize(exact, one))))
    return rows


@lru_cache(maxsize=64)
def monthly_rate_from_apy(apy_bp: int) -> Decimal:
    """(1 + APY)^(1/12) − 1 as a high-precision Decimal."""
    base = _CTX.add(Decimal(1), _CTX.divide(Decimal(apy_bp), Decimal(10_000)))
    return _CTX.power(base, _CTX.divide(Decimal(1), Decimal(12))) - 1


def savings_interest_micros(adb_micros: int, apy_bp: int) -> int:
    """Monthly savings interest on an average daily balance, in micros."""
    rate = monthly_rate_from_apy(apy_bp)
    return int(_CTX.quantize(_CTX.multiply(Decimal(adb_micros), rate), Decimal(1)))


def card_interest(adb: int, apr_bp: int, days: int, paid_in_full: bool) -> int:
    """ADB × APR/365 × cycle days (simple interest, as the formula says); cents."""
    if paid_in_full or adb <= 0:
        return 0
    return div_round(adb * apr_bp * days, 10_000 * 365)


def daily_interest_micros(balance: int, apr_bp: int) -> int:
    """One day of simple interest on `balance` cents, in micros."""
    return div_round(balance * MICROS_PER_CENT * apr_bp, 10_000 * 365)


def card_minimum_payment(statement: int) -> int:
    """max(25, 2 % of statement), or the whole statement when it is 25 or less."""
    if statement <= 2_500:
        return max(statement, 0)
    return max(2_500, pct_of(statement, 200))


def inflate_micros(base_micros: int, annual_bp: int) -> int:
    """Apply one month of inflation (annual ÷ 12) to an expense base."""
    return div_round(base_micros * (120_000 + annual_bp), 120_000)


def apply_return(value: int, return_ppm: int) -> int:
    """Grow a value by a monthly return in ppm, clamped to ±30 %, floored at 0.01."""
    r = max(-300_000, min(300_000, return_ppm))
    return max(1, div_round(value * (1_000_000 + r), 1_000_000))


def future_value(monthly_deposit: int, months: int, apy_bp: int, start: int = 0) -> int:
    """Value after `months` end-of-month deposits with monthly compounding."""
    rate = monthly_rate_from_apy(apy_bp)
    g = _CTX.power(_CTX.add(Decimal(1), rate), months)
    fv = Decimal(start) * g
    if rate:
        fv += Decimal(monthly_deposit) * _CTX.divide(g - 1, rate)
    else:
        fv += Decimal(monthly_deposit * months)
    return int(_CTX.quantize(fv, Decimal(1)))


def display_amount(cents: int, ppp: Decimal, decimals: int) -> Decimal:
    """CU cents shown in the player's currency: CU × PPP, rounded to its decimals."""
    value = _CTX.multiply(to_decimal(cents), ppp)
    return _CTX.quantize(value, Decimal(1).scaleb(-decimals))


def scale_milli(value: int, milli: int) -> int:
    """value × milli / 1000, half-even."""
    return div_round(value * milli, 1_000)
