"""Error codes returned for rejected actions; a rejected action changes nothing."""

from __future__ import annotations

INVALID_ACTION = "INVALID_ACTION"
INVALID_AMOUNT = "INVALID_AMOUNT"
INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
CARD_EXPIRED = "CARD_EXPIRED"
CARD_NOT_FOUND = "CARD_NOT_FOUND"
OPTION_NOT_FOUND = "OPTION_NOT_FOUND"
ACCOUNT_NOT_FOUND = "ACCOUNT_NOT_FOUND"
NOT_FOUND = "NOT_FOUND"
LOCKED = "LOCKED"
LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
BALANCE_CAP = "BALANCE_CAP"
LOAN_DENIED = "LOAN_DENIED"
CREDIT_RESTRICTED = "CREDIT_RESTRICTED"
CARDS_PENDING = "CARDS_PENDING"
STALE_STATE = "STALE_STATE"
ALREADY_PROCESSED = "ALREADY_PROCESSED"
BUDGET_INVALID = "BUDGET_INVALID"
GAME_NOT_ACTIVE = "GAME_NOT_ACTIVE"


class ActionError(Exception):
    """Raised by validation before any mutation; carries a stable error code."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
