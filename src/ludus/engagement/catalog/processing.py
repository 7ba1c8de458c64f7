"""Redemption lifecycle after the purchase: partner fulfilment (a job), confirmation,
disputes, refunds and automatic confirmation."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.core.kit.errors import NotFound
from ludus.core.ledger import service as ledger
from ludus.engagement import coins
from ludus.engagement.catalog.fulfilment import FulfilmentRequest, adapter_for
from ludus.engagement.catalog.models import CatalogItem, Redemption, RedemptionTransition
from ludus.engagement.catalog.service import AUTO_CONFIRM_AFTER, MAX_ATTEMPTS, _transition


async def get_redemption(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    redemption_id: uuid.UUID,
    user_id: uuid.UUID | None = None,
    lock: bool = False,
) -> Redemption:
    query = select(Redemption).where(
        Redemption.id == redemption_id, Redemption.tenant_id == tenant_id
    )
    if user_id is not None:
        query = query.where(Redemption.user_id == user_id)
    if lock:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        raise NotFound("Redemption not found.")
    return row


async def list_redemptions(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[Sequence[Redemption], int]:
    query = select(Redemption).where(
        Redemption.tenant_id == tenant_id, Redemption.user_id == user_id
    )
    if status:
        query = query.where(Redemption.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(Redemption.created_at.desc(), Redemption.id).offset(offset).limit(limit)
    )
    return rows.scalars().all(), total


async def history(session: AsyncSession, redemption_id: uuid.UUID) -> list[RedemptionTransition]:
    rows = await session.execute(
        select(RedemptionTransition)
        .where(RedemptionTransition.redemption_id == redemption_id)
        .order_by(RedemptionTransition.created_at, RedemptionTransition.id)
    )
    return list(rows.scalars())


async def _refund(session: AsyncSession, row: Redemption, note: str) -> None:
    """Failed before fulfilment: release the hold and put the stock back."""
    if row.hold_id is not None:
        await ledger.void_hold(session, tenant_id=row.tenant_id, hold_id=row.hold_id, reason=note)
    await session.execute(
        update(CatalogItem)
        .where(CatalogItem.id == row.item_id, CatalogItem.stock >= 0)
        .values(stock=CatalogItem.stock + 1)
        .execution_options(synchronize_session=False)
    )
    await _transition(session, row, "refunded", note)


async def fulfil_one(session: AsyncSession, row: Redemption) -> str:
    """Call the partner for one pending/processing redemption; returns the new status."""
    item = await session.get(CatalogItem, row.item_id)
    assert item is not None
    if row.status == "pending":
        await _transition(session, row, "processing")
    row.attempts += 1
    result = await adapter_for(row.partner_tenant_id).fulfil(
        FulfilmentRequest(
            redemption_id=row.id,
            partner_tenant_id=row.partner_tenant_id,
            item_ref=item.partner_item_ref,
            fulfillment_type=item.fulfillment_type,
            face_value=item.face_value,
            face_currency=item.face_currency,
            delivery_email=row.delivery_email,
            delivery_address=row.delivery_address,
        )
    )
    if result.ok:
        assert row.hold_id is not None
        await ledger.post_hold(session, tenant_id=row.tenant_id, hold_id=row.hold_id)
        row.partner_redemption_id = result.partner_ref
        row.fulfillment_details = result.details
        row.fulfilled_at = clock.utcnow()
        await _transition(session, row, "fulfilled")
        return row.status
    row.error_message = result.error
    if result.retryable and row.attempts < MAX_ATTEMPTS:
        await session.flush()
        return row.status
    await _transition(session, row, "failed", result.error)
    await _refund(session, row, "fulfilment failed")
    return row.status


async def process_redemptions(session: AsyncSession, limit: int = 100) -> int:
    """Job body: fulfil waiting redemptions (any tenant; the session must be system-scoped)."""
    rows = (
        (
            await session.execute(
                select(Redemption)
                .where(Redemption.status.in_(("pending", "processing")))
                .order_by(Redemption.created_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for row in rows:
        await fulfil_one(session, row)
    return len(rows)


async def confirm(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, redemption_id: uuid.UUID
) -> Redemption:
    row = await get_redemption(session, tenant_id, redemption_id, user_id, lock=True)
    await _transition(session, row, "confirmed", "confirmed by user")
    return row


async def dispute(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    redemption_id: uuid.UUID,
    reason: str,
) -> Redemption:
    row = await get_redemption(session, tenant_id, redemption_id, user_id, lock=True)
    await _transition(session, row, "disputed", reason)
    return row


async def resolve(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    redemption_id: uuid.UUID,
    *,
    refund: bool,
    note: str,
) -> Redemption:
    """Admin decision on a dispute: keep (resolved) or give the coins back (refunded)."""
    row = await get_redemption(session, tenant_id, redemption_id, lock=True)
    if refund and row.status == "disputed":
        await coins.earn(
            session,
            tenant_id=tenant_id,
            user_id=row.user_id,
            amount=row.coin_cost,
            reason="redemption_refund",
            reference=str(row.id),
            idempotency_key=f"refund:{row.id}",
            enforce_limits=False,
        )
        await _transition(session, row, "refunded", note)
    else:
        await _transition(session, row, "resolved", note)
    return row


async def auto_confirm(session: AsyncSession, now: datetime | None = None) -> int:
    now = now or clock.utcnow()
    rows = (
        (
            await session.execute(
                select(Redemption)
                .where(
                    Redemption.status == "fulfilled",
                    Redemption.fulfilled_at <= now - AUTO_CONFIRM_AFTER,
                )
                .limit(500)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for row in rows:
        await _transition(session, row, "confirmed", "auto-confirmed")
    return len(rows)
