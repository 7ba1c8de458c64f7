"""Every PaYa query, always filtered by tenant (RLS applies as well)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.paya.models import (
    BankLink,
    Distribution,
    Flag,
    Movement,
    Payment,
    Payout,
    Profile,
    ReserveSnapshot,
    Revenue,
)
from ludus.paya.rules import LoadFact

SETTLED_OR_OPEN = ("queued", "pending", "settled")


async def profile_by_user(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
) -> Profile | None:
    query = select(Profile).where(Profile.tenant_id == tenant_id, Profile.user_id == user_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def profile_by_username(
    session: AsyncSession, tenant_id: uuid.UUID, key: str
) -> Profile | None:
    query = select(Profile).where(Profile.tenant_id == tenant_id, Profile.username_key == key)
    return (await session.execute(query)).scalar_one_or_none()


async def profiles_by_users(
    session: AsyncSession, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Profile]:
    rows = await session.execute(
        select(Profile).where(Profile.tenant_id == tenant_id, Profile.user_id.in_(user_ids))
    )
    return {p.user_id: p for p in rows.scalars()}


async def search_profiles(
    session: AsyncSession, tenant_id: uuid.UUID, pattern: str, offset: int, limit: int
) -> tuple[Sequence[Profile], int]:
    where = and_(Profile.tenant_id == tenant_id, Profile.username_key.like(pattern, escape="\\"))
    total = await session.scalar(select(func.count()).select_from(Profile).where(where)) or 0
    rows = await session.execute(
        select(Profile).where(where).order_by(Profile.username_key).offset(offset).limit(limit)
    )
    return rows.scalars().all(), total


async def recent_loads(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, since: datetime
) -> list[LoadFact]:
    rows = await session.execute(
        select(Movement.amount, Movement.created_at).where(
            Movement.tenant_id == tenant_id,
            Movement.user_id == user_id,
            Movement.kind == "load",
            Movement.status.in_(SETTLED_OR_OPEN),
            Movement.created_at >= since,
        )
    )
    return [LoadFact(user_id, r[0], r[1]) for r in rows]


async def loaded_since(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, since: datetime
) -> int:
    return sum(x.amount for x in await recent_loads(session, tenant_id, user_id, since))


async def pending_loads(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID | None = None
) -> int:
    """Tokens of loads not yet settled (held for the user, not spendable)."""
    query = select(func.coalesce(func.sum(Movement.amount), 0)).where(
        Movement.tenant_id == tenant_id,
        Movement.kind == "load",
        Movement.status.in_(("queued", "pending")),
    )
    if user_id is not None:
        query = query.where(Movement.user_id == user_id)
    return int(await session.scalar(query) or 0)


async def open_flag_rules(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> list[str]:
    rows = await session.execute(
        select(Flag.rule).where(
            Flag.tenant_id == tenant_id, Flag.user_id == user_id, Flag.resolved_at.is_(None)
        )
    )
    return list(rows.scalars())


async def add_rule_flag(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    rule: str,
    reason: str,
    details: dict[str, Any],
) -> bool:
    """Open a rule flag unless one is already open; True when a new flag was raised."""
    result = await session.execute(
        insert(Flag)
        .values(id=uuid.uuid4(), tenant_id=tenant_id, user_id=user_id, rule=rule, source="rule",
                reason=reason[:500], details=details)
        .on_conflict_do_nothing(
            index_elements=["tenant_id", "user_id", "rule"],
            # literal predicate: it must match the partial index's text, not a bound parameter
            index_where=text("resolved_at IS NULL AND source = 'rule'"),
        )
        .returning(Flag.id)
    )  # fmt: skip
    return result.scalar_one_or_none() is not None


async def flags(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None,
    open_only: bool,
    offset: int,
    limit: int,
) -> tuple[Sequence[Flag], int]:
    query = select(Flag).where(Flag.tenant_id == tenant_id)
    if user_id is not None:
        query = query.where(Flag.user_id == user_id)
    if open_only:
        query = query.where(Flag.resolved_at.is_(None))
    return await _page(session, query.order_by(Flag.created_at.desc(), Flag.id), offset, limit)


async def _page(
    session: AsyncSession, query: Select[Any], offset: int, limit: int
) -> tuple[Sequence[Any], int]:
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(query.offset(offset).limit(limit))
    return rows.scalars().all(), total


async def feed_page(
    session: AsyncSession, tenant_id: uuid.UUID, offset: int, limit: int
) -> tuple[Sequence[Payment], int]:
    query = select(Payment).where(Payment.tenant_id == tenant_id, Payment.public.is_(True))
    query = query.order_by(Payment.created_at.desc(), Payment.id.desc())
    return await _page(session, query, offset, limit)


async def payments_of(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    offset: int,
    limit: int,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[Sequence[Payment], int]:
    query = select(Payment).where(
        Payment.tenant_id == tenant_id,
        or_(Payment.sender_id == user_id, Payment.recipient_id == user_id),
    )
    if start is not None:
        query = query.where(Payment.created_at >= start)
    if end is not None:
        query = query.where(Payment.created_at < end)
    query = query.order_by(Payment.created_at.desc(), Payment.id.desc())
    return await _page(session, query, offset, limit)


async def payment_by_key(
    session: AsyncSession, tenant_id: uuid.UUID, sender: uuid.UUID, key: str
) -> Payment | None:
    query = select(Payment).where(
        Payment.tenant_id == tenant_id, Payment.sender_id == sender, Payment.idempotency_key == key
    )
    return (await session.execute(query)).scalar_one_or_none()


async def bank_link(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, link_id: uuid.UUID | None
) -> BankLink | None:
    query = select(BankLink).where(BankLink.tenant_id == tenant_id, BankLink.user_id == user_id)
    if link_id is not None:
        query = query.where(BankLink.id == link_id)
    query = query.order_by(BankLink.created_at.desc()).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def bank_links(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> Sequence[BankLink]:
    rows = await session.execute(
        select(BankLink)
        .where(BankLink.tenant_id == tenant_id, BankLink.user_id == user_id)
        .order_by(BankLink.created_at.desc())
    )
    return rows.scalars().all()


async def movement_by_key(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, key: str
) -> Movement | None:
    query = select(Movement).where(
        Movement.tenant_id == tenant_id, Movement.user_id == user_id,
        Movement.idempotency_key == key,
    )  # fmt: skip
    return (await session.execute(query)).scalar_one_or_none()


async def movements_of(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, offset: int, limit: int
) -> tuple[Sequence[Movement], int]:
    query = select(Movement).where(Movement.tenant_id == tenant_id, Movement.user_id == user_id)
    query = query.order_by(Movement.created_at.desc(), Movement.id)
    return await _page(session, query, offset, limit)


async def lock_movement(session: AsyncSession, movement_id: uuid.UUID) -> Movement | None:
    query = select(Movement).where(Movement.id == movement_id).with_for_update(skip_locked=True)
    return (await session.execute(query)).scalar_one_or_none()


async def due_movement_ids(
    session: AsyncSession,
    *,
    statuses: Sequence[str],
    before: datetime,
    limit: int,
    tenant_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    query = select(Movement.id).where(
        Movement.status.in_(statuses),
        or_(Movement.next_attempt_at.is_(None), Movement.next_attempt_at <= before),
    )
    if tenant_id is not None:
        query = query.where(Movement.tenant_id == tenant_id)
    rows = await session.execute(query.order_by(Movement.created_at).limit(limit))
    return list(rows.scalars())


async def movement_by_transfer(session: AsyncSession, transfer_id: str) -> Movement | None:
    query = select(Movement).where(Movement.provider_transfer_id == transfer_id)
    return (await session.execute(query)).scalar_one_or_none()


async def sum_movements(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, int]:
    """Token totals by (kind, status), e.g. {"load:settled": 500, "redeem:pending": 20}."""
    rows = await session.execute(
        select(Movement.kind, Movement.status, func.sum(Movement.amount))
        .where(Movement.tenant_id == tenant_id)
        .group_by(Movement.kind, Movement.status)
    )
    return {f"{r[0]}:{r[1]}": int(r[2]) for r in rows}


async def revenue_total(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    week: date | None = None,
    *,
    until_week: date | None = None,
) -> int:
    query = select(func.coalesce(func.sum(Revenue.amount), 0)).where(Revenue.tenant_id == tenant_id)
    if week is not None:
        query = query.where(Revenue.week_start == week)
    if until_week is not None:
        query = query.where(Revenue.week_start <= until_week)
    return int(await session.scalar(query) or 0)


async def revenue_by_key(session: AsyncSession, tenant_id: uuid.UUID, key: str) -> Revenue | None:
    query = select(Revenue).where(Revenue.tenant_id == tenant_id, Revenue.idempotency_key == key)
    return (await session.execute(query)).scalar_one_or_none()


async def revenue_by_week(
    session: AsyncSession, tenant_id: uuid.UUID, weeks: int
) -> list[tuple[date, int]]:
    rows = await session.execute(
        select(Revenue.week_start, func.sum(Revenue.amount))
        .where(Revenue.tenant_id == tenant_id)
        .group_by(Revenue.week_start)
        .order_by(Revenue.week_start.desc())
        .limit(weeks)
    )
    return [(r[0], int(r[1])) for r in rows]


async def distributions(
    session: AsyncSession, tenant_id: uuid.UUID, limit: int
) -> Sequence[Distribution]:
    rows = await session.execute(
        select(Distribution)
        .where(Distribution.tenant_id == tenant_id)
        .order_by(Distribution.week_start.desc())
        .limit(limit)
    )
    return rows.scalars().all()


async def distribution_for(
    session: AsyncSession, tenant_id: uuid.UUID, week: date, *, lock: bool = False
) -> Distribution | None:
    query = select(Distribution).where(
        Distribution.tenant_id == tenant_id, Distribution.week_start == week
    )
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def previous_distribution(
    session: AsyncSession, tenant_id: uuid.UUID, week: date
) -> Distribution | None:
    query = (
        select(Distribution)
        .where(Distribution.tenant_id == tenant_id, Distribution.week_start < week)
        .order_by(Distribution.week_start.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def unpaid_payouts(
    session: AsyncSession, distribution_id: uuid.UUID, limit: int
) -> Sequence[Payout]:
    query = (
        select(Payout)
        .where(Payout.distribution_id == distribution_id, Payout.paid_at.is_(None))
        .order_by(Payout.user_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(query)).scalars().all()


async def snapshots(
    session: AsyncSession, tenant_id: uuid.UUID, limit: int
) -> Sequence[ReserveSnapshot]:
    rows = await session.execute(
        select(ReserveSnapshot)
        .where(ReserveSnapshot.tenant_id == tenant_id)
        .order_by(ReserveSnapshot.taken_at.desc())
        .limit(limit)
    )
    return rows.scalars().all()


async def active_senders(
    session: AsyncSession, tenant_id: uuid.UUID, start: datetime, end: datetime, minimum: int
) -> dict[uuid.UUID, int]:
    """Users with at least `minimum` payments sent in [start, end)."""
    rows = await session.execute(
        select(Payment.sender_id, func.count())
        .where(Payment.tenant_id == tenant_id, Payment.created_at >= start,
               Payment.created_at < end)
        .group_by(Payment.sender_id)
        .having(func.count() >= max(minimum, 1))
    )  # fmt: skip
    return {r[0]: int(r[1]) for r in rows}


async def active_user_count(session: AsyncSession, tenant_id: uuid.UUID, since: datetime) -> int:
    query = select(func.count(func.distinct(Payment.sender_id))).where(
        Payment.tenant_id == tenant_id, Payment.created_at >= since
    )
    return int(await session.scalar(query) or 0)


async def flagged_users(session: AsyncSession, tenant_id: uuid.UUID) -> set[uuid.UUID]:
    rows = await session.execute(
        select(Flag.user_id).where(Flag.tenant_id == tenant_id, Flag.resolved_at.is_(None))
    )
    return set(rows.scalars())


async def all_profiles(session: AsyncSession, tenant_id: uuid.UUID) -> Sequence[Profile]:
    rows = await session.execute(select(Profile).where(Profile.tenant_id == tenant_id))
    return rows.scalars().all()
