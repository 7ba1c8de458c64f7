"""Two-phase transfers: a pending hold reserves funds on the source account (its
`pending_out`), then is posted (fully or partly) as a normal transaction, voided, or expired.

Lock order: the hold row first, then accounts (by id), as in every other ledger write.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.core.ledger import repository as repo
from ludus.core.ledger.errors import (
    AccountClosed,
    AccountFrozen,
    AssetMismatch,
    HoldExpired,
    HoldNotPending,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
)
from ludus.core.ledger.models import Account, AccountStatus, Hold, HoldStatus, LedgerTransaction
from ludus.core.ledger.transfer import (
    call_transfer,
    check_amount,
    check_key,
    digest,
    run_atomic,
)


def _check_usable(account: Account) -> None:
    if account.status == AccountStatus.closed:
        raise AccountClosed(details=repo.as_details(account_id=account.id))
    if account.status == AccountStatus.frozen:
        raise AccountFrozen(details=repo.as_details(account_id=account.id))


def _replay(existing: Hold, request_hash: str) -> Hold:
    if existing.request_hash != request_hash:
        raise IdempotencyConflict(
            details=repo.as_details(idempotency_key=existing.idempotency_key, hold_id=existing.id)
        )
    return existing


async def hold(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    idempotency_key: str,
    kind: str,
    from_account: uuid.UUID,
    to_account: uuid.UUID,
    amount: int,
    expires_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> Hold:
    """Reserve `amount` on `from_account` for a later post to `to_account`."""
    check_key(idempotency_key, "idempotency_key", 255)
    check_key(kind, "kind", 64)
    check_amount(amount)
    if from_account == to_account:
        raise InvalidAmount("A hold needs two different accounts.")
    request_hash = digest(kind, [(from_account, -amount), (to_account, amount)], "hold", expires_at)

    async def op() -> Hold:
        existing = await repo.hold_by_key(session, tenant_id, idempotency_key)
        if existing is not None:
            return _replay(existing, request_hash)
        source = await repo.get_account(session, tenant_id, from_account, lock=True)
        target = await repo.get_account(session, tenant_id, to_account)
        for account in (source, target):
            _check_usable(account)
        if source.asset != target.asset:
            raise AssetMismatch(details={"assets": [source.asset, target.asset]})
        if not source.allow_negative:
            available = await repo.posted_balance(session, source) - source.pending_out
            if available < amount:
                raise InsufficientFunds(details=repo.as_details(account_id=source.id))
        created = (
            await session.execute(
                insert(Hold)
                .values(
                    id=uuid.uuid4(),
                    tenant_id=tenant_id,
                    idempotency_key=idempotency_key,
                    kind=kind,
                    from_account_id=from_account,
                    to_account_id=to_account,
                    asset=source.asset,
                    amount=amount,
                    status=HoldStatus.pending,
                    expires_at=expires_at,
                    meta=metadata or {},
                    request_hash=request_hash,
                )
                .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
                .returning(Hold)
            )
        ).scalar_one_or_none()
        if created is None:  # a concurrent call with the same key won
            existing = await repo.hold_by_key(session, tenant_id, idempotency_key)
            assert existing is not None
            return _replay(existing, request_hash)
        await session.execute(
            _update(Account)
            .where(Account.id == from_account)
            .values(pending_out=Account.pending_out + amount)
        )
        return created

    return await run_atomic(session, op)


async def post_hold(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    hold_id: uuid.UUID,
    amount: int | None = None,
    idempotency_key: str | None = None,
) -> LedgerTransaction:
    """Post a pending hold (the whole amount, or part of it; the rest is released)."""
    key = idempotency_key or f"hold:{hold_id}:post"
    check_key(key, "idempotency_key", 255)

    async def op() -> LedgerTransaction:
        held = await repo.get_hold(session, tenant_id, hold_id, lock=True)
        if held.status == HoldStatus.posted and held.transaction_id is not None:
            tx = await repo.get_transaction(session, tenant_id, held.transaction_id)
            if tx.idempotency_key == key:
                tx.replayed = True
                return tx
        if held.status != HoldStatus.pending:
            raise HoldNotPending(details={"hold_id": str(hold_id), "status": held.status})
        if held.expires_at is not None and held.expires_at <= clock.utcnow():
            raise HoldExpired(details={"hold_id": str(hold_id)})
        value = held.amount if amount is None else check_amount(amount)
        if value > held.amount:
            raise InvalidAmount("Cannot post more than the hold.", details={"max": held.amount})
        entries = [(held.from_account_id, -value), (held.to_account_id, value)]
        tx = await call_transfer(
            session,
            tenant_id=tenant_id,
            idempotency_key=key,
            kind=held.kind,
            entries=entries,
            metadata={**held.meta, "hold_id": str(held.id)},
            request_hash=digest(held.kind, entries, "post", held.id),
            hold_id=held.id,
            release_account=held.from_account_id,
            release=held.amount,
        )
        await session.execute(
            _update(Hold)
            .where(Hold.id == held.id)
            .values(
                status=HoldStatus.posted,
                posted_amount=value,
                transaction_id=tx.id,
                resolved_at=text("now()"),
            )
        )
        return tx

    return await run_atomic(session, op)


async def void_hold(
    session: AsyncSession, *, tenant_id: uuid.UUID, hold_id: uuid.UUID, reason: str = ""
) -> Hold:
    """Release a pending hold's reservation; nothing moves."""

    async def op() -> Hold:
        held = await repo.get_hold(session, tenant_id, hold_id, lock=True)
        if held.status != HoldStatus.pending:
            raise HoldNotPending(details={"hold_id": str(hold_id), "status": held.status})
        await _release(session, [held], HoldStatus.voided, reason)
        return await repo.get_hold(session, tenant_id, hold_id)

    return await run_atomic(session, op)


def _update(entity: Any) -> Any:
    """UPDATE without syncing the identity map; rows are re-read with populate_existing."""
    return sa_update(entity).execution_options(synchronize_session=False)


async def _release(
    session: AsyncSession, holds: list[Hold], status: HoldStatus, reason: str | None
) -> None:
    totals: dict[uuid.UUID, int] = {}
    for h in holds:
        totals[h.from_account_id] = totals.get(h.from_account_id, 0) + h.amount
    ordered = sorted(totals)
    await session.execute(
        select(Account.id).where(Account.id.in_(ordered)).order_by(Account.id).with_for_update()
    )
    for account_id in ordered:
        await session.execute(
            _update(Account)
            .where(Account.id == account_id)
            .values(pending_out=Account.pending_out - totals[account_id])
        )
    await session.execute(
        _update(Hold)
        .where(Hold.id.in_([h.id for h in holds]))
        .values(status=status, reason=reason, resolved_at=text("now()"))
    )


async def expire_due_holds(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None = None,
    now: datetime | None = None,
    batch: int = 500,
) -> int:
    """Expire every pending hold past its expiry (the periodic job calls this)."""
    cutoff = now or clock.utcnow()
    expired = 0
    while True:

        async def op() -> int:
            query = (
                select(Hold)
                .where(Hold.status == HoldStatus.pending, Hold.expires_at <= cutoff)
                .order_by(Hold.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            )
            if tenant_id is not None:
                query = query.where(Hold.tenant_id == tenant_id)
            due = list((await session.execute(query)).scalars().all())
            if due:
                await _release(session, due, HoldStatus.expired, "expired")
            return len(due)

        count = await run_atomic(session, op)
        expired += count
        if count < batch:
            return expired
