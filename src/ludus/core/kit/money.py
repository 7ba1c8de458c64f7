"""Money and points as integers in minor units, with an asset code; never floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

# Minor-unit scale per asset code; tenants may add their own assets in the ledger.
SCALES: dict[str, int] = {
    "USD": 2,
    "KES": 2,
    "PEN": 2,
    "EUR": 2,
    "GBP": 2,
    "COIN": 0,
    "POINT": 0,
    "STAMP": 0,
    "TOKEN": 0,
    "XP": 0,
}


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units
    asset: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int in minor units")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.asset)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.asset)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.asset)

    def _same(self, other: Money) -> None:
        if other.asset != self.asset:
            raise ValueError(f"asset mismatch: {self.asset} vs {other.asset}")

    @property
    def scale(self) -> int:
        return SCALES.get(self.asset, 2)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-self.scale)

    @classmethod
    def from_decimal(cls, value: Decimal | str, asset: str) -> Money:
        scale = SCALES.get(asset, 2)
        quantum = Decimal(1).scaleb(-scale)
        minor = (Decimal(value).quantize(quantum, rounding=ROUND_HALF_EVEN)).scaleb(scale)
        return cls(int(minor), asset)

    def __str__(self) -> str:
        return f"{self.to_decimal()} {self.asset}"
