"""M-Pesa callbacks in, deposits out.

Ingest (HTTP): verify source and token, store the raw body once per TransID /
CheckoutRequestID, and make sure a drain job is queued. Drain (job): parse each stored
callback and record the deposit. The deposit row is unique per M-Pesa receipt, so a C2B
confirmation and the STK callback for the same payment, or any redelivery, count once.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock, crypto
from ludus.core.kit.errors import NotFound, error_code
from ludus.core.ledger import service as ledger
from ludus.savings import repository
from ludus.savings.models import (
    CallbackKind,
    Deposit,
    DepositStatus,
    Member,
    MemberStatus,
    MpesaCallback,
    SavingsOrg,
    StkRequest,
    StkStatus,
)
from ludus.savings.mpesa.base import MalformedCallback, StkResult, parse_c2b, parse_stk
from ludus.savings.phones import normalize_phone
from ludus.savings.service import current_token

CallbackForbidden = error_code(403, "MPESA_CALLBACK_FORBIDDEN", "Callback source not allowed.")
NotInSuspense = error_code(409, "SAVINGS_NOT_IN_SUSPENSE", "Only suspense deposits can be matched.")
_STK_STATUS = {
    StkResult.success: StkStatus.succeeded,
    StkResult.cancelled: StkStatus.cancelled,
    StkResult.timeout: StkStatus.timeout,
}


def source_allowed(org: SavingsOrg, ip: str | None) -> bool:
    if not org.callback_allowed_ips:
        return False
    if ip is None:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for entry in org.callback_allowed_ips:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def verify_source(org: SavingsOrg, token: str, ip: str | None) -> None:
    expected = current_token(org)
    if not expected or not crypto.constant_time_equal(token, expected):
        raise CallbackForbidden("Unknown callback token.")
    if not source_allowed(org, ip):
        raise CallbackForbidden(details={"ip": ip})


def _dedup_key(kind: CallbackKind, raw: bytes) -> str:
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedCallback("The callback body is not JSON.") from exc
    if kind == CallbackKind.stk_result:
        return parse_stk(payload).checkout_request_id
    return parse_c2b(payload).trans_id


_DRAIN_LOCK = text("SELECT pg_advisory_xact_lock_shared(hashtext('savings-drain:' || :t))")


async def ingest(
    session: AsyncSession, org: SavingsOrg, kind: CallbackKind, raw: bytes, ip: str | None
) -> tuple[uuid.UUID, bool]:
    """Store a verified callback; returns (callback id, first delivery?)."""
    from ludus.savings import tasks

    key = _dedup_key(kind, raw)  # malformed bodies are refused before anything is stored
    callback_id, first = await repository.store_callback(
        session, tenant_id=org.tenant_id, kind=kind, dedup_key=key, raw_body=raw, source_ip=ip
    )
    if first and kind != CallbackKind.c2b_validation:
        # Held until commit: the drain's final emptiness check waits for us (see tasks).
        await session.execute(_DRAIN_LOCK, {"t": str(org.tenant_id)})
        await tasks.ensure_drain_scheduled(session, org.tenant_id)
    return callback_id, first


# --- processing (runs in the drain job) ----------------------------------------------------


@dataclass(frozen=True)
class Payment:
    receipt: str
    amount: int
    source: str
    transacted_at: datetime
    msisdn: str | None
    bill_ref: str | None
    checkout_request_id: str | None = None


async def match_member(
    session: AsyncSession, tenant_id: uuid.UUID, reference: str | None
) -> Member | None:
    """The member a paybill account reference (or phone number) names."""
    if not reference:
        return None
    ref = "".join(reference.split()).upper()
    member = await repository.member_by_ref(session, tenant_id, ref)
    if member is None:
        phone = normalize_phone(ref)
        if phone is not None:
            member = await repository.member_by_phone(session, tenant_id, phone)
    return member


async def record_payment(
    session: AsyncSession, org: SavingsOrg, payment: Payment, member: Member | None
) -> Deposit | None:
    """Post one payment to the ledger, once. Returns None when the receipt is known."""
    if member is not None and member.status != MemberStatus.active:
        member = None  # deactivated: an admin decides where the money goes
    status = DepositStatus.verified if member else DepositStatus.suspense
    deposit_id = await repository.insert_deposit(
        session,
        {
            "tenant_id": org.tenant_id,
            "receipt": payment.receipt,
            "member_id": member.id if member else None,
            "amount": payment.amount,
            "source": payment.source,
            "status": status,
            "msisdn": payment.msisdn,
            "bill_ref": payment.bill_ref,
            "checkout_request_id": payment.checkout_request_id,
            "transacted_at": payment.transacted_at,
        },
    )
    if deposit_id is None:
        return None
    assert org.clearing_account_id and org.suspense_account_id
    to_account = member.savings_account_id if member else org.suspense_account_id
    assert to_account is not None
    tx = await ledger.move(
        session,
        tenant_id=org.tenant_id,
        idempotency_key=f"savings:deposit:{payment.receipt}",
        kind="savings.deposit" if member else "savings.deposit_suspense",
        from_account=org.clearing_account_id,
        to_account=to_account,
        amount=payment.amount,
        metadata={"receipt": payment.receipt, "source": payment.source},
    )
    deposit = await repository.get_deposit(session, org.tenant_id, deposit_id)
    assert deposit is not None
    deposit.ledger_tx_id = tx.id
    if member is not None:
        await _credited(session, org, member, deposit)
    return deposit


async def _credited(
    session: AsyncSession, org: SavingsOrg, member: Member, deposit: Deposit
) -> None:
    from ludus.savings import notify, progress

    total = await progress.on_deposit(session, org, member, deposit)
    await notify.deposit_receipt(session, org, member, deposit, total)


async def process_callback(session: AsyncSession, org: SavingsOrg, callback: MpesaCallback) -> None:
    payload = orjson.loads(callback.raw_body)
    if callback.kind == CallbackKind.c2b_confirmation:
        c2b = parse_c2b(payload)
        member = await match_member(session, org.tenant_id, c2b.bill_ref)
        payment = Payment(
            c2b.trans_id, c2b.amount, "c2b", c2b.transacted_at, c2b.msisdn, c2b.bill_ref
        )
        await record_payment(session, org, payment, member)
    elif callback.kind == CallbackKind.stk_result:
        await _process_stk(session, org, parse_stk(payload))


async def _process_stk(session: AsyncSession, org: SavingsOrg, cb: object) -> None:
    from ludus.savings.mpesa.base import StkCallback

    assert isinstance(cb, StkCallback)
    request = await repository.stk_by_checkout(session, org.tenant_id, cb.checkout_request_id)
    if request is not None:
        request.status = _STK_STATUS.get(cb.result_code, StkStatus.failed)  # type: ignore[call-overload]
        request.result_code = cb.result_code
        request.result_desc = cb.result_desc
        request.receipt = cb.receipt
    if cb.result_code != StkResult.success or cb.receipt is None or cb.amount is None:
        return
    member = None
    if request is not None and request.member_id is not None:
        member = await repository.get_member(session, org.tenant_id, request.member_id)
    elif cb.phone:
        # The callback beat its initiation record (or there is none): match by phone.
        phone = normalize_phone(cb.phone)
        member = await repository.member_by_phone(session, org.tenant_id, phone) if phone else None
    payment = Payment(
        cb.receipt,
        cb.amount,
        "stk",
        cb.transacted_at or clock.utcnow(),
        cb.phone,
        None,
        cb.checkout_request_id,
    )
    await record_payment(session, org, payment, member)


async def record_stk_initiation(
    session: AsyncSession,
    org: SavingsOrg,
    *,
    checkout_request_id: str,
    merchant_request_id: str,
    member: Member,
    amount: int,
    phone: str,
) -> StkRequest:
    """Save the initiation; when the callback already arrived, take its outcome."""
    request = await repository.stk_by_checkout(session, org.tenant_id, checkout_request_id)
    if request is None:
        request = StkRequest(
            id=uuid.uuid4(),
            tenant_id=org.tenant_id,
            checkout_request_id=checkout_request_id,
            status=StkStatus.initiated,
        )
        session.add(request)
    request.merchant_request_id = merchant_request_id
    request.member_id = member.id
    request.amount = amount
    request.phone = phone
    deposit = await repository.deposit_by_checkout(session, org.tenant_id, checkout_request_id)
    if deposit is not None:
        request.status = StkStatus.succeeded
        request.receipt = deposit.receipt
    await session.flush()
    return request


async def match_suspense(
    session: AsyncSession,
    org: SavingsOrg,
    deposit_id: uuid.UUID,
    member: Member,
    *,
    actor: uuid.UUID,
) -> Deposit:
    """Admin assigns a suspense deposit to a member: suspense → savings, then progress."""
    deposit = await repository.get_deposit(session, org.tenant_id, deposit_id, lock=True)
    if deposit is None:
        raise NotFound("Deposit not found.")
    if deposit.status != DepositStatus.suspense:
        raise NotInSuspense(details={"status": str(deposit.status)})
    if member.status != MemberStatus.active or member.savings_account_id is None:
        from ludus.savings.service import MemberInactive

        raise MemberInactive()
    assert org.suspense_account_id is not None
    tx = await ledger.move(
        session,
        tenant_id=org.tenant_id,
        idempotency_key=f"savings:match:{deposit.receipt}",
        kind="savings.suspense_match",
        from_account=org.suspense_account_id,
        to_account=member.savings_account_id,
        amount=deposit.amount,
        metadata={"receipt": deposit.receipt, "member_id": str(member.id)},
    )
    deposit.status = DepositStatus.matched
    deposit.member_id = member.id
    deposit.match_tx_id = tx.id
    deposit.matched_by = actor
    deposit.matched_at = clock.utcnow()
    await session.flush()
    await _credited(session, org, member, deposit)
    from ludus.savings.service import _audit

    await _audit(
        session,
        org.tenant_id,
        actor,
        "deposit_matched",
        "deposit",
        deposit.id,
        before={"status": "suspense"},
        after={"status": "matched", "member_id": str(member.id)},
    )
    return deposit
