"""MoneyLife business errors: every engine error code maps to a 4xx LudusError."""

from __future__ import annotations

from typing import Any

from ludus.core.kit.errors import LudusError, NotFound, error_code
from ludus.moneylife.engine import errors as codes


class StaleState(LudusError):
    status_code = 409
    code = "STALE_STATE"
    message = "The game changed since you loaded it; refresh and try again."


GameNotFound = error_code(404, "GAME_NOT_FOUND", "The game was not found.")
GameDateMismatch = error_code(
    409, "GAME_DATE_MISMATCH", "current_game_date does not match the game's date."
)
CardNotFoundForTenant = error_code(
    404, "DECISION_CARD_NOT_FOUND", "The decision card was not found."
)
CardInvalid = error_code(422, "DECISION_CARD_INVALID", "The decision card definition is invalid.")
NoActiveGame = error_code(404, "NO_ACTIVE_GAME", "You have no active game.")
MatchInvalid = error_code(422, "MATCH_INVALID", "The head-to-head match cannot be created.")

_STATUS = {
    codes.INVALID_ACTION: 422,
    codes.INVALID_AMOUNT: 422,
    codes.INSUFFICIENT_FUNDS: 422,
    codes.CARD_EXPIRED: 409,
    codes.CARD_NOT_FOUND: 404,
    codes.OPTION_NOT_FOUND: 404,
    codes.ACCOUNT_NOT_FOUND: 404,
    codes.LOCKED: 409,
    codes.LIMIT_EXCEEDED: 429,
    codes.BALANCE_CAP: 422,
    codes.LOAN_DENIED: 422,
    codes.CREDIT_RESTRICTED: 422,
    codes.CARDS_PENDING: 409,
    codes.ALREADY_PROCESSED: 409,
    codes.BUDGET_INVALID: 422,
    codes.GAME_NOT_ACTIVE: 409,
}
_MESSAGES = {
    codes.INVALID_ACTION: "The action is not valid for this game.",
    codes.INVALID_AMOUNT: "The amount is out of range.",
    codes.INSUFFICIENT_FUNDS: "Not enough money for this.",
    codes.CARD_EXPIRED: "The card expired; its worst outcome was applied.",
    codes.CARD_NOT_FOUND: "The card is not pending in this game.",
    codes.OPTION_NOT_FOUND: "The card has no such option.",
    codes.ACCOUNT_NOT_FOUND: "The game account was not found.",
    codes.LOCKED: "This is not unlocked at your level.",
    codes.LIMIT_EXCEEDED: "A game limit was reached.",
    codes.BALANCE_CAP: "Balances cap at 1,000,000.",
    codes.LOAN_DENIED: "The loan was denied.",
    codes.CREDIT_RESTRICTED: "Credit is restricted after bankruptcy.",
    codes.CARDS_PENDING: "Resolve the pending cards before advancing the day.",
    codes.ALREADY_PROCESSED: "This was already processed.",
    codes.BUDGET_INVALID: "The budget allocations are invalid.",
    codes.GAME_NOT_ACTIVE: "The game is not active.",
}
ENGINE_ERRORS: dict[str, type[LudusError]] = {
    code: error_code(status, code, _MESSAGES[code]) for code, status in _STATUS.items()
}


def engine_error(code: str, message: str = "", **details: Any) -> LudusError:
    """The LudusError for an engine rejection code (unknown codes → 422 INVALID_ACTION)."""
    if code == codes.STALE_STATE:
        return StaleState(details=details)
    if code == codes.NOT_FOUND:
        return NotFound(message or None, details=details)
    cls = ENGINE_ERRORS.get(code, ENGINE_ERRORS[codes.INVALID_ACTION])
    if message:
        details = {"reason": message, **details}
    return cls(details=details)
