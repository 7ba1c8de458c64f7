"""Every savings query, filtered by tenant (RLS scopes them too)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import driver
from ludus.core.kit.repository import one_in_tenant
from ludus.savings.models import (
    CallbackStatus,
    Deposit,
    DepositStatus,
    Member,
    MemberStatus,
    MpesaCallback,
    SavingsOrg,
    StkRequest,
)


async def get_org(session: AsyncSession, tenant_id: uuid.UUID) -> SavingsOrg | None:
    result = await session.execute(select(SavingsOrg).where(SavingsOrg.tenant_id == tenant_id))
    return result.scalar_one_or_none()


async def get_member(
    session: AsyncSession, tenant_id: uuid.UUID, member_id: uuid.UUID
) -> Member | None:
    return await one_in_tenant(session, Member, tenant_id, Member.id == member_id)


async def member_by_user(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> Member | None:
    return await one_in_tenant(session, Member, tenant_id, Member.user_id == user_id)


async def member_by_phone(session: AsyncSession, tenant_id: uuid.UUID, phone: str) -> Member | None:
    return await one_in_tenant(session, Member, tenant_id, Member.phone == phone)


async def member_by_ref(session: AsyncSession, tenant_id: uuid.UUID, ref: str) -> Member | None:
    return await one_in_tenant(session, Member, tenant_id, Member.account_ref == ref.upper())


async def existing_phones_and_refs(
    session: AsyncSession, tenant_id: uuid.UUID, phones: list[str], refs: list[str]
) -> tuple[set[str], set[str]]:
    rows = await session.execute(
        select(Member.phone, Member.account_ref).where(
            Member.tenant_id == tenant_id,
            or_(Member.phone.in_(phones), Member.account_ref.in_(refs)),
        )
    )
    found = rows.all()
    return {r[0] for r in found}, {r[1] for r in found}


async def list_members(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    status: MemberStatus | None,
    search: str | None,
    offset: int,
    limit: int,
) -> tuple[Sequence[Member], int]:
    query = select(Member).where(Member.tenant_id == tenant_id)
    if status is not None:
        query = query.where(Member.status == status)
    if search:
        pattern = f"%{search}%"
        query = query.where(or_(Member.name.ilike(pattern), Member.phone.ilike(pattern)))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(Member.created_at, Member.id).offset(offset).limit(limit)
    )
    return rows.scalars().all(), total


async def claim_pending_callbacks(
    session: AsyncSession, tenant_id: uuid.UUID, limit: int
) -> Sequence[MpesaCallback]:
    """Oldest unprocessed callbacks, locked so concurrent drains never take the same one."""
    rows = await session.execute(
        select(MpesaCallback)
        .where(
            MpesaCallback.tenant_id == tenant_id,
            MpesaCallback.status == CallbackStatus.received,
        )
        .order_by(MpesaCallback.received_at, MpesaCallback.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return rows.scalars().all()


_CLAIM = (
    f"UPDATE {MpesaCallback.__tablename__} SET status = %(processed)s, error = NULL,"
    " processed_at = now()"
    f" WHERE id IN (SELECT id FROM {MpesaCallback.__tablename__}"
    "  WHERE tenant_id = %(t)s AND status = %(received)s ORDER BY received_at, id"
    "  LIMIT %(n)s FOR UPDATE SKIP LOCKED)"
    " RETURNING id, kind, raw_body, received_at"
)


async def claim_and_mark_processed(
    session: AsyncSession, tenant_id: uuid.UUID, limit: int
) -> list[Any]:
    """`claim_pending_callbacks` and mark them processed, in one statement: the caller
    processes them in the same transaction, so a rollback returns them to pending. Rows
    have `id`, `kind`, `raw_body` and `received_at`, oldest first."""
    params = {"t": tenant_id, "n": limit, "processed": CallbackStatus.processed.name,
              "received": CallbackStatus.received.name}  # fmt: skip
    rows = await driver.fetch(session, _CLAIM, params)
    return sorted(rows, key=lambda cb: (cb.received_at, cb.id))


async def insert_deposit(session: AsyncSession, values: dict[str, object]) -> uuid.UUID | None:
    """None when this M-Pesa receipt was already recorded (the exactly-once gate)."""
    stmt = (
        insert(Deposit)
        .values(id=uuid.uuid4(), **values)
        .on_conflict_do_nothing(constraint="uq_savings_deposits_tenant_id_receipt")
        .returning(Deposit.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_deposit(
    session: AsyncSession, tenant_id: uuid.UUID, deposit_id: uuid.UUID, *, lock: bool = False
) -> Deposit | None:
    query = select(Deposit).where(Deposit.tenant_id == tenant_id, Deposit.id == deposit_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def list_deposits(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    member_id: uuid.UUID | None,
    status: DepositStatus | None,
    offset: int,
    limit: int,
) -> tuple[Sequence[Deposit], int]:
    query = select(Deposit).where(Deposit.tenant_id == tenant_id)
    if member_id is not None:
        query = query.where(Deposit.member_id == member_id)
    if status is not None:
        query = query.where(Deposit.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(Deposit.transacted_at.desc(), Deposit.id).offset(offset).limit(limit)
    )
    return rows.scalars().all(), total


async def member_deposits(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    member_id: uuid.UUID,
    start: datetime,
    end: datetime,
) -> Sequence[tuple[datetime, int]]:
    rows = await session.execute(
        select(Deposit.transacted_at, Deposit.amount)
        .where(
            Deposit.tenant_id == tenant_id,
            Deposit.member_id == member_id,
            Deposit.transacted_at >= start,
            Deposit.transacted_at < end,
        )
        .order_by(Deposit.transacted_at)
    )
    return [(r[0], r[1]) for r in rows.all()]


async def stk_by_checkout(
    session: AsyncSession, tenant_id: uuid.UUID, checkout_id: str
) -> StkRequest | None:
    result = await session.execute(
        select(StkRequest).where(
            StkRequest.tenant_id == tenant_id, StkRequest.checkout_request_id == checkout_id
        )
    )
    return result.scalar_one_or_none()


async def deposit_by_checkout(
    session: AsyncSession, tenant_id: uuid.UUID, checkout_id: str
) -> Deposit | None:
    result = await session.execute(
        select(Deposit).where(
            Deposit.tenant_id == tenant_id, Deposit.checkout_request_id == checkout_id
        )
    )
    return result.scalar_one_or_none()


async def mark_callback(
    session: AsyncSession, callback_id: uuid.UUID, status: CallbackStatus, error: str | None
) -> None:
    await session.execute(
        update(MpesaCallback)
        .where(MpesaCallback.id == callback_id)
        .values(status=status, error=error, processed_at=func.now())
    )
