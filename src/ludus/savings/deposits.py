"""Deposits outside the callback path: STK initiation and admin matching of suspense.

Callbacks are verified and stored by `inbox` and turned into deposits in batches by the
drain job (`batch`); the deposit row is unique per M-Pesa receipt, so a C2B confirmation
and the STK callback of one payment, or any redelivery, count once.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.core.kit.errors import NotFound, error_code
from ludus.core.ledger import service as ledger
from ludus.core.tenancy.models import Tenant
from ludus.savings import live, repository, tasks
from ludus.savings.models import (
    Deposit,
    DepositStatus,
    Member,
    MemberStatus,
    SavingsOrg,
    StkRequest,
    StkStatus,
)

NotInSuspense = error_code(409, "SAVINGS_NOT_IN_SUSPENSE", "Only suspense deposits can be matched.")


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
    tenant = await session.get(Tenant, org.tenant_id)
    assert tenant is not None
    credit = live.Credit(member, deposit.id, deposit.amount, deposit.transacted_at)
    outcome = await live.apply(session, tenant, [credit])
    await tasks.defer_messages(session, org.tenant_id, outcome)
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
