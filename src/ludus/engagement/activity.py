"""Ingest one product event for a user: streaks, challenge progress and badges.

The activity row's unique event id is the guard: a duplicate delivery (or a concurrent one,
which waits on the first insert) finds the row and changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.engagement import badges, service
from ludus.engagement.challenges import service as challenges
from ludus.engagement.models import Activity
from ludus.engagement.rules import load_rules


async def ingest(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    product: str,
    event_id: uuid.UUID,
    event_type: str,
    occurred_at: datetime,
    amount: int = 0,
) -> bool:
    """True if the event was new and processed; False for a duplicate."""
    inserted = await session.scalar(
        insert(Activity)
        .values(
            tenant_id=tenant_id,
            event_id=event_id,
            user_id=user_id,
            product=product,
            event_type=event_type,
            amount=amount,
            occurred_at=occurred_at,
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(Activity.id)
    )
    if inserted is None:
        return False
    rules = await load_rules(session, tenant_id, product)
    qualifying = rules.streak.qualifying_events
    if not qualifying or event_type in qualifying:
        await service.record_streak_action(
            session,
            tenant_id=tenant_id,
            user_id=user_id,
            product=product,
            at=occurred_at,
            rules=rules,
        )
    await challenges.contribute(
        session,
        tenant_id=tenant_id,
        user_id=user_id,
        event_id=event_id,
        event_type=event_type,
        amount=amount,
        at=occurred_at,
    )
    await badges.evaluate(
        session,
        tenant_id=tenant_id,
        user_id=user_id,
        product=product,
        now=occurred_at,
        source_event_id=event_id,
        rules=rules,
    )
    return True
