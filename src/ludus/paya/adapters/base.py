"""Provider interfaces for bank linking (Plaid) and ACH money movement (Dwolla)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol


class ProviderUnavailable(Exception):
    """Transient: network error, timeout, 5xx, 429 or an open circuit. Retry later."""


class ProviderRejected(Exception):
    """Permanent: the provider refused the request (4xx). Retrying will not help."""

    def __init__(self, message: str, *, code: str = "rejected") -> None:
        super().__init__(message)
        self.code = code


class TransferStatus(enum.StrEnum):
    pending = "pending"
    processed = "processed"
    failed = "failed"
    returned = "returned"  # settled, then reversed by the receiving bank (ACH return)
    cancelled = "cancelled"

    @property
    def final(self) -> bool:
        return self != TransferStatus.pending

    @property
    def succeeded(self) -> bool:
        return self == TransferStatus.processed


@dataclass(frozen=True)
class ExchangeResult:
    access_token: str
    item_id: str


@dataclass(frozen=True)
class BankAccount:
    account_id: str
    name: str
    mask: str
    type: str
    subtype: str


@dataclass(frozen=True)
class Identity:
    names: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)


class PlaidAdapter(Protocol):
    name: str

    async def create_link_token(self, client_user_id: str) -> str: ...

    async def exchange_public_token(self, public_token: str) -> ExchangeResult: ...

    async def get_accounts(self, access_token: str) -> list[BankAccount]: ...

    async def get_identity(self, access_token: str) -> Identity: ...

    async def create_processor_token(self, access_token: str, account_id: str) -> str: ...


class DwollaAdapter(Protocol):
    name: str
    fbo_funding_source: str  # PaYa's own (For Benefit Of) account at the bank

    async def create_customer(
        self, *, first_name: str, last_name: str, email: str, correlation_id: str
    ) -> str: ...

    async def create_funding_source(
        self, customer_id: str, *, processor_token: str, name: str
    ) -> str: ...

    async def initiate_transfer(
        self, *, source: str, destination: str, amount: int, idempotency_key: str
    ) -> str:
        """Start an ACH transfer of `amount` whole dollars; returns the transfer id."""
        ...

    async def get_transfer_status(self, transfer_id: str) -> TransferStatus: ...
