"""Badge definitions and awarding.

A badge is awarded at most once per user (the unique (tenant, user, badge, seq) key with
seq = 1), or again each time its criteria are met anew if it is repeatable (seq = n + 1,
counting only activity after the previous award).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.engagement import coins, criteria, errors
from ludus.engagement.models import Badge, UserBadge
from ludus.engagement.outbox import publish
from ludus.engagement.rules import EngagementRules, load_rules


async def create_badge(
    session: AsyncSession, *, tenant_id: uuid.UUID | None, data: dict[str, Any]
) -> Badge:
    criteria.validate(data["criteria"])
    exists = await session.scalar(
        select(Badge.id).where(
            Badge.code == data["code"],
            Badge.tenant_id.is_(None) if tenant_id is None else Badge.tenant_id == tenant_id,
        )
    )
    if exists is not None:
        raise errors.BadgeCodeTaken(details={"code": data["code"]})
    badge = Badge(id=uuid.uuid4(), tenant_id=tenant_id, **data)
    session.add(badge)
    await session.flush()
    return badge


async def visible_badges(
    session: AsyncSession, tenant_id: uuid.UUID, product: str | None = None
) -> Sequence[Badge]:
    query = select(Badge).where(
        Badge.active.is_(True), or_(Badge.tenant_id.is_(None), Badge.tenant_id == tenant_id)
    )
    if product is not None:
        query = query.where(or_(Badge.product.is_(None), Badge.product == product))
    return (await session.execute(query.order_by(Badge.code))).scalars().all()


async def earned(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> list[tuple[UserBadge, Badge]]:
    rows = await session.execute(
        select(UserBadge, Badge)
        .join(Badge, Badge.id == UserBadge.badge_id)
        .where(UserBadge.tenant_id == tenant_id, UserBadge.user_id == user_id)
        .order_by(UserBadge.earned_at, UserBadge.seq)
    )
    return list(rows.tuples())


async def _last_awards(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> dict[uuid.UUID, tuple[int, datetime]]:
    rows = await session.execute(
        select(UserBadge.badge_id, func.max(UserBadge.seq), func.max(UserBadge.earned_at))
        .where(UserBadge.tenant_id == tenant_id, UserBadge.user_id == user_id)
        .group_by(UserBadge.badge_id)
    )
    return {b: (int(s), e) for b, s, e in rows}


async def evaluate(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    product: str,
    now: datetime,
    source_event_id: uuid.UUID | None = None,
    rules: EngagementRules | None = None,
) -> list[Badge]:
    """Award every badge whose criteria now hold; returns the badges awarded."""
    rules = rules or await load_rules(session, tenant_id, product)
    last = await _last_awards(session, tenant_id, user_id)
    awarded = []
    for badge in await visible_badges(session, tenant_id, product):
        previous = last.get(badge.id)
        if previous is not None and not badge.repeatable:
            continue
        subject = criteria.Subject(
            tenant_id, user_id, product, now, since=previous[1] if previous else None
        )
        if not await criteria.evaluate(session, subject, badge.criteria):
            continue
        seq = previous[0] + 1 if previous else 1
        inserted = await session.scalar(
            insert(UserBadge)
            .values(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                user_id=user_id,
                badge_id=badge.id,
                seq=seq,
                source_event_id=source_event_id,
                earned_at=now,
            )
            .on_conflict_do_nothing()
            .returning(UserBadge.id)
        )
        if inserted is None:
            continue
        awarded.append(badge)
        await _reward(session, tenant_id, user_id, badge, seq, rules)
    return awarded


async def _reward(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    badge: Badge,
    seq: int,
    rules: EngagementRules,
) -> None:
    await publish(
        session,
        "reward.badge.earned",
        tenant_id,
        {"user_id": user_id, "badge_id": badge.code, "rarity": badge.rarity, "seq": seq},
    )
    amount = badge.coin_reward or rules.badge_coins.get(badge.rarity, 0)
    if amount:
        await coins.earn(
            session,
            tenant_id=tenant_id,
            user_id=user_id,
            amount=amount,
            reason="badge",
            reference=f"badge:{badge.code}",
            idempotency_key=f"badge:{user_id}:{badge.id}:{seq}",
            rules=rules.coins,
            enforce_limits=False,
        )
