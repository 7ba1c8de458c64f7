"""Game calendar.

The game uses real month lengths with a simplified leap rule: every year
divisible by 4 is a leap year (no century rule), so 2100 has a 29 February.
Dates are (year, month, day) triples plus a running `day_number` since game
start, which keys RNG streams and deadlines.
"""

from __future__ import annotations

_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_CUMULATIVE = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def is_leap(year: int) -> bool:
    return year % 4 == 0


def days_in_month(year: int, month: int) -> int:
    if month == 2 and is_leap(year):
        return 29
    return _MONTH_DAYS[month - 1]


def next_date(year: int, month: int, day: int) -> tuple[int, int, int]:
    if day < days_in_month(year, month):
        return year, month, day + 1
    if month < 12:
        return year, month + 1, 1
    return year + 1, 1, 1


def is_month_end(year: int, month: int, day: int) -> bool:
    return day == days_in_month(year, month)


def absolute_day(year: int, month: int, day: int) -> int:
    """Days since an arbitrary epoch under the game's leap rule."""
    y = year - 1
    leap_extra = 1 if (month > 2 and is_leap(year)) else 0
    return 365 * y + y // 4 + _CUMULATIVE[month - 1] + leap_extra + day


def weekday(year: int, month: int, day: int) -> int:
    """0 = Monday … 6 = Sunday, anchored so 2027-01-01 is a Friday."""
    return (absolute_day(year, month, day) - absolute_day(2027, 1, 1) + 4) % 7


def is_trading_day(year: int, month: int, day: int) -> bool:
    return weekday(year, month, day) < 5


def month_index(year: int, month: int) -> int:
    """A running month count, handy for 'months since' arithmetic."""
    return year * 12 + (month - 1)


def iso(year: int, month: int, day: int) -> str:
    return f"{year:04d}-{month:02d}-{day:02d}"


def parse_iso(text: str) -> tuple[int, int, int]:
    y, m, d = text.split("-")
    year, month, day = int(y), int(m), int(d)
    if not (1 <= month <= 12 and 1 <= day <= days_in_month(year, month)):
        raise ValueError(f"invalid game date {text!r}")
    return year, month, day
