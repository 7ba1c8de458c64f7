"""The adapter interface and the Daraja payload shapes we parse."""

from __future__ import annotations

import base64
import enum
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from ludus.core.kit.errors import error_code

EAT = timezone(timedelta(hours=3))  # Daraja timestamps are Nairobi local time

MpesaUnavailable = error_code(502, "MPESA_UNAVAILABLE", "M-Pesa could not be reached.")
MpesaRejected = error_code(502, "MPESA_REJECTED", "M-Pesa refused the request.")
MalformedCallback = error_code(400, "MPESA_MALFORMED_CALLBACK", "The callback body is invalid.")


class StkResult(enum.IntEnum):
    """Result codes the STK callback reports (Daraja's values)."""

    success = 0
    insufficient_funds = 1
    cancelled = 1032
    timeout = 1037


@dataclass(frozen=True)
class StkPushAck:
    merchant_request_id: str
    checkout_request_id: str
    response_code: str
    customer_message: str


@dataclass(frozen=True)
class StkQueryResult:
    checkout_request_id: str
    result_code: int | None  # None while the customer has not answered
    result_desc: str


@dataclass(frozen=True)
class StatusQueryAck:
    conversation_id: str
    originator_conversation_id: str
    response_code: str


@dataclass(frozen=True)
class C2BPayment:
    trans_id: str
    amount: int  # KES cents
    bill_ref: str
    msisdn: str
    transacted_at: datetime
    shortcode: str
    first_name: str


@dataclass(frozen=True)
class StkCallback:
    merchant_request_id: str
    checkout_request_id: str
    result_code: int
    result_desc: str
    amount: int | None  # KES cents, only on success
    receipt: str | None
    phone: str | None
    transacted_at: datetime | None


class MpesaAdapter(Protocol):
    async def stk_push(
        self,
        *,
        phone: str,
        amount: int,
        account_ref: str,
        description: str,
        callback_url: str,
    ) -> StkPushAck: ...

    async def stk_query(self, checkout_request_id: str) -> StkQueryResult: ...

    async def transaction_status(
        self, *, transaction_id: str, result_url: str, timeout_url: str
    ) -> StatusQueryAck: ...


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


def daraja_timestamp(moment: datetime) -> str:
    return moment.astimezone(EAT).strftime("%Y%m%d%H%M%S")


def parse_daraja_time(value: Any) -> datetime:
    return datetime.strptime(str(value), "%Y%m%d%H%M%S").replace(tzinfo=EAT)


def whole_kes_to_cents(value: Any) -> int:
    """Daraja sends amounts as "100.00", 100 or 100.5; keep them exact as cents."""
    from decimal import Decimal, InvalidOperation

    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise MalformedCallback("Amount is not a number.") from exc
    cents = amount * 100
    if cents != cents.to_integral_value() or cents <= 0:
        raise MalformedCallback("Amount must be a positive KES value with at most 2 decimals.")
    return int(cents)


def _text(payload: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = payload.get(key)
    if value is None or str(value).strip() == "":
        if required:
            raise MalformedCallback(details={"missing": key})
        return ""
    return str(value).strip()


def parse_c2b(payload: Any) -> C2BPayment:
    if not isinstance(payload, dict):
        raise MalformedCallback()
    try:
        when = parse_daraja_time(_text(payload, "TransTime"))
    except ValueError as exc:
        raise MalformedCallback(details={"field": "TransTime"}) from exc
    return C2BPayment(
        trans_id=_text(payload, "TransID")[:32],
        amount=whole_kes_to_cents(_text(payload, "TransAmount")),
        bill_ref=_text(payload, "BillRefNumber", required=False)[:64],
        msisdn=_text(payload, "MSISDN", required=False)[:64],
        transacted_at=when,
        shortcode=_text(payload, "BusinessShortCode", required=False),
        first_name=_text(payload, "FirstName", required=False)[:60],
    )


def parse_stk(payload: Any) -> StkCallback:
    try:
        body = payload["Body"]["stkCallback"]
        result_code = int(body["ResultCode"])
        checkout = str(body["CheckoutRequestID"]).strip()
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedCallback() from exc
    if not checkout:
        raise MalformedCallback(details={"missing": "CheckoutRequestID"})
    items: dict[str, Any] = {}
    meta = body.get("CallbackMetadata") or {}
    for item in meta.get("Item", []) if isinstance(meta, dict) else []:
        if isinstance(item, dict) and "Name" in item:
            items[str(item["Name"])] = item.get("Value")
    amount = receipt = phone = when = None
    if result_code == StkResult.success:
        if "Amount" not in items or "MpesaReceiptNumber" not in items:
            raise MalformedCallback(details={"missing": "CallbackMetadata"})
        amount = whole_kes_to_cents(items["Amount"])
        receipt = str(items["MpesaReceiptNumber"])[:32]
        phone = str(items["PhoneNumber"]) if items.get("PhoneNumber") else None
        try:
            when = (
                parse_daraja_time(items["TransactionDate"]) if "TransactionDate" in items else None
            )
        except ValueError as exc:
            raise MalformedCallback(details={"field": "TransactionDate"}) from exc
    return StkCallback(
        merchant_request_id=str(body.get("MerchantRequestID") or "")[:64],
        checkout_request_id=checkout[:64],
        result_code=result_code,
        result_desc=str(body.get("ResultDesc") or "")[:300],
        amount=amount,
        receipt=receipt,
        phone=phone,
        transacted_at=when,
    )
