"""Engagement test helpers."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.events.models import OutboxEvent
from ludus.engagement import coins


async def fund(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, amount: int
) -> None:
    await coins.earn(
        session,
        tenant_id=tenant_id,
        user_id=user_id,
        amount=amount,
        reason="test_grant",
        reference=None,
        idempotency_key=f"grant:{uuid.uuid4()}",
        enforce_limits=False,
    )


async def events(
    session: AsyncSession, tenant_id: uuid.UUID, event_type: str
) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(OutboxEvent.data)
        .where(OutboxEvent.tenant_id == tenant_id, OutboxEvent.event_type == event_type)
        .order_by(OutboxEvent.occurred_at)
    )
    return list(rows.scalars())


async def count_events(session: AsyncSession, tenant_id: uuid.UUID, event_type: str) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                OutboxEvent.tenant_id == tenant_id, OutboxEvent.event_type == event_type
            )
        )
        or 0
    )
