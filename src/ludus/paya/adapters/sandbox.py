"""Sandbox providers: no network, deterministic, usable from any process.

A sandbox transfer id carries its start time and scripted outcome, so any process (API
server, worker) can answer its status: `pending` until the settle delay has passed, then the
outcome. Outcomes come from `script()` (next transfers), or from the funding source name:
one containing "R01" is returned by the bank, "FAIL" fails. `down = True` simulates an outage.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import deque

from ludus.core.kit import clock
from ludus.paya.adapters.base import (
    BankAccount,
    ExchangeResult,
    Identity,
    ProviderRejected,
    ProviderUnavailable,
    TransferStatus,
)


def _now_ms() -> int:
    return int(clock.utcnow().timestamp() * 1000)


class SandboxPlaid:
    name = "plaid"

    def __init__(self) -> None:
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise ProviderUnavailable("plaid sandbox is down")

    async def create_link_token(self, client_user_id: str) -> str:
        self._check()
        return f"link-sandbox-{uuid.uuid4()}"

    async def exchange_public_token(self, public_token: str) -> ExchangeResult:
        self._check()
        if not public_token.startswith("public-sandbox-"):
            raise ProviderRejected("invalid public token", code="INVALID_PUBLIC_TOKEN")
        digest = hashlib.sha256(public_token.encode()).hexdigest()[:24]
        return ExchangeResult(access_token=f"access-sandbox-{digest}", item_id=f"item-{digest}")

    async def get_accounts(self, access_token: str) -> list[BankAccount]:
        self._check()
        mask = str(int(hashlib.sha256(access_token.encode()).hexdigest(), 16) % 10_000).zfill(4)
        return [BankAccount(f"acc-{access_token[-12:]}", "Plaid Checking", mask, "depository",
                            "checking")]  # fmt: skip

    async def get_identity(self, access_token: str) -> Identity:
        self._check()
        return Identity(names=["Alberta Bobbeth Charleson"], emails=["accountholder0@example.com"])

    async def create_processor_token(self, access_token: str, account_id: str) -> str:
        self._check()
        return f"processor-sandbox-{account_id}"


class SandboxDwolla:
    name = "dwolla"

    def __init__(self, *, settle_seconds: float = 5.0, fbo_funding_source: str = "fbo-sandbox"):
        self.settle_ms = int(settle_seconds * 1000)
        self.fbo_funding_source = fbo_funding_source
        self.down = False
        self._script: deque[TransferStatus] = deque()

    def script(self, *outcomes: TransferStatus) -> None:
        """The next transfers end with these outcomes, in order."""
        self._script.extend(outcomes)

    def _check(self) -> None:
        if self.down:
            raise ProviderUnavailable("dwolla sandbox is down")

    async def create_customer(
        self, *, first_name: str, last_name: str, email: str, correlation_id: str
    ) -> str:
        self._check()
        return f"cust-{uuid.uuid5(uuid.NAMESPACE_URL, correlation_id)}"

    async def create_funding_source(
        self, customer_id: str, *, processor_token: str, name: str
    ) -> str:
        self._check()
        tag = "".join(ch for ch in name.upper() if ch.isalnum())[:8]
        return f"fs-{tag}-{uuid.uuid4().hex[:12]}"

    async def initiate_transfer(
        self, *, source: str, destination: str, amount: int, idempotency_key: str
    ) -> str:
        self._check()
        if amount <= 0:
            raise ProviderRejected("amount must be positive", code="ValidationError")
        if self._script:
            outcome = self._script.popleft()
        elif "R01" in source.upper() or "R01" in destination.upper():
            outcome = TransferStatus.returned
        elif "FAIL" in source.upper() or "FAIL" in destination.upper():
            outcome = TransferStatus.failed
        else:
            outcome = TransferStatus.processed
        return f"sbx.{outcome.value}.{_now_ms()}.{uuid.uuid4().hex[:12]}"

    async def get_transfer_status(self, transfer_id: str) -> TransferStatus:
        self._check()
        try:
            _, outcome, started, _ = transfer_id.split(".")
            status, started_ms = TransferStatus(outcome), int(started)
        except ValueError as exc:
            raise ProviderRejected("unknown transfer", code="NotFound") from exc
        if _now_ms() - started_ms < self.settle_ms:
            return TransferStatus.pending
        return status
