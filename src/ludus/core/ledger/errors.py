"""Ledger business errors: each has a stable code; a refused operation changes nothing."""

from __future__ import annotations

from ludus.core.kit.errors import LudusError, register_constraint_error


class LedgerError(LudusError):
    status_code = 409
    code = "LEDGER_ERROR"
    message = "The ledger refused this operation."


class InsufficientFunds(LedgerError):
    status_code = 409
    code = "INSUFFICIENT_FUNDS"
    message = "The account's available balance is too low."


class AccountFrozen(LedgerError):
    status_code = 409
    code = "ACCOUNT_FROZEN"
    message = "The account is frozen."


class AccountClosed(LedgerError):
    status_code = 409
    code = "ACCOUNT_CLOSED"
    message = "The account is closed."


class AccountNotEmpty(LedgerError):
    status_code = 409
    code = "ACCOUNT_NOT_EMPTY"
    message = "Only an account with a zero balance and no pending holds can be closed."


class AssetMismatch(LedgerError):
    status_code = 422
    code = "ASSET_MISMATCH"
    message = "The accounts hold different assets."


class Unbalanced(LedgerError):
    status_code = 422
    code = "UNBALANCED"
    message = "Postings must number two or more and sum to zero for each asset."


class HoldExpired(LedgerError):
    status_code = 409
    code = "HOLD_EXPIRED"
    message = "The hold has expired."


class HoldNotPending(LedgerError):
    status_code = 409
    code = "HOLD_NOT_PENDING"
    message = "The hold is no longer pending."


class HoldNotFound(LedgerError):
    status_code = 404
    code = "HOLD_NOT_FOUND"
    message = "The hold was not found."


class AlreadyReversed(LedgerError):
    status_code = 409
    code = "ALREADY_REVERSED"
    message = "The transaction has already been reversed."


class AccountNotFound(LedgerError):
    status_code = 404
    code = "ACCOUNT_NOT_FOUND"
    message = "The account was not found."


class TransactionNotFound(LedgerError):
    status_code = 404
    code = "TRANSACTION_NOT_FOUND"
    message = "The transaction was not found."


class AssetNotFound(LedgerError):
    status_code = 404
    code = "ASSET_NOT_FOUND"
    message = "The asset is not defined for this tenant."


class AssetScaleConflict(LedgerError):
    status_code = 409
    code = "ASSET_SCALE_CONFLICT"
    message = "The asset already exists with a different scale."


class InvalidAmount(LedgerError):
    status_code = 422
    code = "INVALID_AMOUNT"
    message = "Amounts must be non-zero integers in minor units."


class IdempotencyConflict(LedgerError):
    status_code = 409
    code = "IDEMPOTENCY_CONFLICT"
    message = "This ledger idempotency key was used for different content."


# Codes returned by the SQL functions, mapped to their classes.
BY_CODE: dict[str, type[LedgerError]] = {
    cls.code: cls
    for cls in (
        InsufficientFunds,
        AccountFrozen,
        AccountClosed,
        AccountNotEmpty,
        AssetMismatch,
        Unbalanced,
        HoldExpired,
        HoldNotPending,
        HoldNotFound,
        AlreadyReversed,
        AccountNotFound,
        TransactionNotFound,
        AssetNotFound,
        AssetScaleConflict,
        InvalidAmount,
        IdempotencyConflict,
    )
}


# The deferred balance trigger fires at commit; the request then answers UNBALANCED.
register_constraint_error("ledger_postings_balanced", Unbalanced)
