"""Sandbox adapter: answers like Daraja and later fires the callbacks Safaricom would send.

Outcomes are scripted per phone number (default success): insufficient funds, user
cancelled, timeout (the 1037 callback) or no callback at all (left for reconciliation).
"""

from __future__ import annotations

import asyncio
import enum
import secrets
import string
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from ludus.core.kit import clock
from ludus.savings.mpesa.base import (
    StatusQueryAck,
    StkPushAck,
    StkQueryResult,
    StkResult,
    daraja_timestamp,
)

Deliver = Callable[[str, bytes], Awaitable[None]]


class Outcome(enum.StrEnum):
    success = "success"
    insufficient_funds = "insufficient_funds"
    cancelled = "cancelled"
    timeout = "timeout"
    no_callback = "no_callback"


_CODES = {
    Outcome.success: (StkResult.success, "The service request is processed successfully."),
    Outcome.insufficient_funds: (StkResult.insufficient_funds, "The balance is insufficient."),
    Outcome.cancelled: (StkResult.cancelled, "Request cancelled by user"),
    Outcome.timeout: (StkResult.timeout, "DS timeout user cannot be reached"),
}


def new_receipt() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "S" + "".join(secrets.choice(alphabet) for _ in range(9))


async def http_deliver(url: str, body: bytes) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        await http.post(url, content=body, headers={"content-type": "application/json"})


def stk_callback_body(
    *,
    merchant_request_id: str,
    checkout_request_id: str,
    outcome: Outcome,
    amount: int,
    phone: str,
    receipt: str | None = None,
) -> dict[str, Any]:
    code, desc = _CODES[outcome]
    callback: dict[str, Any] = {
        "MerchantRequestID": merchant_request_id,
        "CheckoutRequestID": checkout_request_id,
        "ResultCode": int(code),
        "ResultDesc": desc,
    }
    if outcome == Outcome.success:
        callback["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": amount // 100},
                {"Name": "MpesaReceiptNumber", "Value": receipt or new_receipt()},
                {"Name": "TransactionDate", "Value": int(daraja_timestamp(clock.utcnow()))},
                {"Name": "PhoneNumber", "Value": int(phone.lstrip("+"))},
            ]
        }
    return {"Body": {"stkCallback": callback}}


def c2b_confirmation_body(
    *, trans_id: str, amount: int, bill_ref: str, msisdn: str, shortcode: str = "600000"
) -> dict[str, Any]:
    return {
        "TransactionType": "Pay Bill",
        "TransID": trans_id,
        "TransTime": daraja_timestamp(clock.utcnow()),
        "TransAmount": f"{amount // 100}.{amount % 100:02d}",
        "BusinessShortCode": shortcode,
        "BillRefNumber": bill_ref,
        "InvoiceNumber": "",
        "OrgAccountBalance": "",
        "ThirdPartyTransID": "",
        "MSISDN": msisdn,
        "FirstName": "Member",
    }


@dataclass
class PendingCallback:
    url: str
    body: bytes
    delay: float


@dataclass
class SandboxAdapter:
    """`auto_fire` delivers callbacks in the background; otherwise call `fire_all()`."""

    deliver: Deliver = http_deliver
    auto_fire: bool = True
    callback_delay: float = 0.2
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    pending: list[PendingCallback] = field(default_factory=list)
    results: dict[str, Outcome] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def script(self, phone: str, outcome: Outcome) -> None:
        self.outcomes[phone] = outcome

    async def stk_push(
        self,
        *,
        phone: str,
        amount: int,
        account_ref: str,
        description: str,
        callback_url: str,
    ) -> StkPushAck:
        merchant = f"sbx-{uuid.uuid4().hex[:12]}"
        checkout = f"ws_CO_{uuid.uuid4().hex[:20]}"
        outcome = self.outcomes.get(phone, Outcome.success)
        self.results[checkout] = outcome
        if outcome != Outcome.no_callback:
            body = stk_callback_body(
                merchant_request_id=merchant,
                checkout_request_id=checkout,
                outcome=outcome,
                amount=amount,
                phone=phone,
            )
            delay = self.callback_delay * (5 if outcome == Outcome.timeout else 1)
            self._queue(PendingCallback(callback_url, orjson.dumps(body), delay))
        return StkPushAck(merchant, checkout, "0", "Success. Request accepted for processing")

    async def simulate_c2b(
        self, *, url: str, trans_id: str, amount: int, bill_ref: str, msisdn: str
    ) -> None:
        body = c2b_confirmation_body(
            trans_id=trans_id, amount=amount, bill_ref=bill_ref, msisdn=msisdn
        )
        self._queue(PendingCallback(url, orjson.dumps(body), self.callback_delay))

    def _queue(self, callback: PendingCallback) -> None:
        if not self.auto_fire:
            self.pending.append(callback)
            return
        task = asyncio.get_running_loop().create_task(self._fire_later(callback))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fire_later(self, callback: PendingCallback) -> None:
        await asyncio.sleep(callback.delay)
        await self.deliver(callback.url, callback.body)

    async def fire_all(self) -> int:
        fired = 0
        while self.pending:
            callback = self.pending.pop(0)
            await self.deliver(callback.url, callback.body)
            fired += 1
        return fired

    async def stk_query(self, checkout_request_id: str) -> StkQueryResult:
        outcome = self.results.get(checkout_request_id)
        if outcome is None or outcome == Outcome.no_callback:
            return StkQueryResult(checkout_request_id, None, "The transaction is being processed")
        code, desc = _CODES[outcome]
        return StkQueryResult(checkout_request_id, int(code), desc)

    async def transaction_status(
        self, *, transaction_id: str, result_url: str, timeout_url: str
    ) -> StatusQueryAck:
        conversation = f"AG_{uuid.uuid4().hex[:16]}"
        return StatusQueryAck(conversation, f"sbx-{transaction_id}", "0")
