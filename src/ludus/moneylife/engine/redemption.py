"""Reward pricing and redemption limits (rules brief §16), as pure functions.

Times are integer seconds (any epoch). The ledger is a plain value the caller
stores; `redeem` returns a new ledger, so the same call replayed with the same
idempotency key charges once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .money import div_round

DAY = 86_400
LIMITS_24H = {"count": 5, "coins": 5_000, "partner": 3, "item": 2}
LIMITS_30D = {"count": 20, "coins": 20_000, "partner": 10}
IDEMPOTENCY_TTL = DAY


def reward_price_coins(wholesale_cents: int, margin_pct: int) -> int:
    """(wholesale $ ÷ 0.01) × (1 + margin); margin must be 10–30 %."""
    if not 10 <= margin_pct <= 30:
        raise ValueError("margin must be between 10 and 30 percent")
    return div_round(wholesale_cents * (100 + margin_pct), 100)


@dataclass(frozen=True, slots=True)
class Redemption:
    at: int
    coins: int
    partner: str
    item: str
    key: str


@dataclass(frozen=True, slots=True)
class RedemptionLedger:
    balance: int
    history: tuple[Redemption, ...] = field(default_factory=tuple)


def limit_error(history: tuple[Redemption, ...], now: int, coins: int, partner: str,
                item: str) -> str:  # fmt: skip
    """'' if a new redemption is allowed, else which limit it breaks."""
    day = [r for r in history if now - r.at < DAY]
    month = [r for r in history if now - r.at < 30 * DAY]
    if (
        len(day) + 1 > LIMITS_24H["count"]
        or sum(r.coins for r in day) + coins > LIMITS_24H["coins"]
    ):
        return "DAILY_LIMIT"
    if sum(r.partner == partner for r in day) + 1 > LIMITS_24H["partner"]:
        return "DAILY_PARTNER_LIMIT"
    if sum(r.item == item for r in day) + 1 > LIMITS_24H["item"]:
        return "DAILY_ITEM_LIMIT"
    if (
        len(month) + 1 > LIMITS_30D["count"]
        or sum(r.coins for r in month) + coins > LIMITS_30D["coins"]
    ):
        return "MONTHLY_LIMIT"
    if sum(r.partner == partner for r in month) + 1 > LIMITS_30D["partner"]:
        return "MONTHLY_PARTNER_LIMIT"
    return ""


def redeem(ledger: RedemptionLedger, now: int, coins: int, partner: str, item: str,
           key: str) -> tuple[RedemptionLedger, str]:  # fmt: skip
    """Returns (ledger, status): ACCEPTED, DUPLICATE, INSUFFICIENT_COINS or a limit code."""
    for r in ledger.history:
        if r.key == key and now - r.at < IDEMPOTENCY_TTL:
            return ledger, "DUPLICATE"
    if coins <= 0 or coins > ledger.balance:
        return ledger, "INSUFFICIENT_COINS"
    error = limit_error(ledger.history, now, coins, partner, item)
    if error:
        return ledger, error
    entry = Redemption(now, coins, partner, item, key)
    return replace(
        ledger, balance=ledger.balance - coins, history=(*ledger.history, entry)
    ), "ACCEPTED"
