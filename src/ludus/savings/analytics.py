"""Analytics pre-computed daily into `savings_daily_stats`, and served from there.

Each row is one org-day: members at day end, new members, members who saved that day,
deposits and amount that day, running total saved, and an engagement snapshot
(participation and completion rates, streak distribution).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, distinct, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.core.tenancy.models import Tenant
from ludus.engagement.challenges.models import Challenge, Participant
from ludus.savings.challenges import PRODUCT
from ludus.savings.models import DailyStats, Deposit, Member, MemberStatus, SavingsOrg


def _bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start, start + timedelta(days=1)


async def _engagement(session: AsyncSession, tenant_id: uuid.UUID, members: int) -> dict[str, Any]:
    joined = (
        await session.scalar(
            select(func.count(distinct(Participant.user_id)))
            .join(Challenge, Challenge.id == Participant.challenge_id)
            .where(Participant.tenant_id == tenant_id, Challenge.product == PRODUCT)
        )
        or 0
    )
    finished = (
        await session.execute(
            select(func.count(), func.count().filter(Participant.completed))
            .join(Challenge, Challenge.id == Participant.challenge_id)
            .where(
                Participant.tenant_id == tenant_id,
                Challenge.product == PRODUCT,
                Challenge.status == "completed",
            )
        )
    ).one()
    runs = await session.execute(
        select(Challenge.results).where(
            Challenge.tenant_id == tenant_id,
            Challenge.product == PRODUCT,
            Challenge.kind == "streak",
            Challenge.status == "completed",
        )
    )
    distribution: dict[str, int] = {}
    for row in runs.all():
        results: list[dict[str, Any]] = list(row[0] or [])
        for r in results:
            bucket = str(r.get("longest_run", r.get("streak", 0)))
            distribution[bucket] = distribution.get(bucket, 0) + 1
    live = await session.execute(
        select(Participant.user_id, Challenge.kind, Participant.score)
        .join(Challenge, Challenge.id == Participant.challenge_id)
        .where(
            Participant.tenant_id == tenant_id,
            Challenge.product == PRODUCT,
            Challenge.kind == "streak",
            Challenge.status == "active",
        )
    )
    active_streakers = len(live.all())
    return {
        "participants": int(joined),
        "participation_rate_pct": round(100 * joined / members, 1) if members else 0.0,
        "completed": int(finished[1]),
        "finished_participations": int(finished[0]),
        "completion_rate_pct": round(100 * finished[1] / finished[0], 1) if finished[0] else 0.0,
        "streak_distribution": distribution,
        "active_streak_participants": active_streakers,
    }


async def compute_day(session: AsyncSession, tenant: Tenant, day: date) -> DailyStats:
    zone = ZoneInfo(tenant.timezone or "UTC")
    start, end = _bounds(day, zone)
    t = tenant.id
    members = (
        await session.scalar(
            select(func.count()).where(
                Member.tenant_id == t,
                Member.created_at < end,
                (Member.status == MemberStatus.active) | (Member.deactivated_at >= end),
            )
        )
        or 0
    )
    new = (
        await session.scalar(
            select(func.count()).where(
                Member.tenant_id == t, Member.created_at >= start, Member.created_at < end
            )
        )
        or 0
    )
    day_row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(Deposit.amount), 0),
                func.count(distinct(Deposit.member_id)),
            ).where(
                Deposit.tenant_id == t, Deposit.transacted_at >= start, Deposit.transacted_at < end
            )
        )
    ).one()
    running = (
        await session.scalar(
            select(func.coalesce(func.sum(Deposit.amount), 0)).where(
                Deposit.tenant_id == t, Deposit.transacted_at < end, Deposit.member_id.is_not(None)
            )
        )
        or 0
    )
    month_start, _ = _bounds(day - timedelta(days=29), zone)
    savers_30d = (
        await session.scalar(
            select(func.count(distinct(Deposit.member_id))).where(
                and_(
                    Deposit.tenant_id == t,
                    Deposit.transacted_at >= month_start,
                    Deposit.transacted_at < end,
                )
            )
        )
        or 0
    )
    engagement = await _engagement(session, t, int(members))
    engagement["active_savers_30d"] = int(savers_30d)
    values = {
        "members": int(members),
        "new_members": int(new),
        "active_savers": int(day_row[2]),
        "deposits": int(day_row[0]),
        "amount_saved": int(day_row[1]),
        "total_saved": int(running),
        "engagement": engagement,
        "computed_at": clock.utcnow(),
    }
    await session.execute(
        insert(DailyStats)
        .values(id=uuid.uuid4(), tenant_id=t, day=day, **values)
        .on_conflict_do_update(constraint="uq_savings_daily_stats_tenant_id_day", set_=values)
    )
    found = await session.scalar(
        select(DailyStats).where(DailyStats.tenant_id == t, DailyStats.day == day)
    )
    assert found is not None
    return found


async def compute_range(session: AsyncSession, tenant: Tenant, first: date, last: date) -> None:
    day = first
    while day <= last:
        await compute_day(session, tenant, day)
        day += timedelta(days=1)


async def compute_all(db: Database, days_back: int = 2) -> int:
    """Refresh yesterday and today (and `days_back` days) for every savings org."""
    async with db.session(system=True) as s:
        tenant_ids = list((await s.execute(select(SavingsOrg.tenant_id))).scalars())
    for tenant_id in tenant_ids:
        async with db.session(tenant_id=tenant_id) as s:
            tenant = await s.get(Tenant, tenant_id)
            assert tenant is not None
            today = clock.utcnow().astimezone(ZoneInfo(tenant.timezone or "UTC")).date()
            await compute_range(s, tenant, today - timedelta(days=days_back), today)
    return len(tenant_ids)


async def stats(
    session: AsyncSession, tenant_id: uuid.UUID, first: date, last: date
) -> Sequence[DailyStats]:
    rows = await session.execute(
        select(DailyStats)
        .where(DailyStats.tenant_id == tenant_id, DailyStats.day >= first, DailyStats.day <= last)
        .order_by(DailyStats.day)
    )
    return rows.scalars().all()


def _month_start(day: date) -> date:
    return day.replace(day=1)


async def overview(session: AsyncSession, tenant: Tenant, today: date) -> dict[str, Any]:
    this_month = _month_start(today)
    last_month = _month_start(this_month - timedelta(days=1))
    rows = await stats(session, tenant.id, last_month, today)
    latest = rows[-1] if rows else None

    def month(first: date, last: date) -> dict[str, int]:
        picked = [r for r in rows if first <= r.day <= last]
        return {
            "saved": sum(r.amount_saved for r in picked),
            "deposits": sum(r.deposits for r in picked),
        }

    return {
        "as_of": latest.day if latest else None,
        "members": latest.members if latest else 0,
        "active_savers_30d": int(latest.engagement.get("active_savers_30d", 0)) if latest else 0,
        "total_saved": latest.total_saved if latest else 0,
        "this_month": month(this_month, today),
        "last_month": month(last_month, this_month - timedelta(days=1)),
    }


def trends(rows: Sequence[DailyStats], period: str) -> list[dict[str, Any]]:
    buckets: dict[date, dict[str, Any]] = {}
    for r in rows:
        key = r.day - timedelta(days=r.day.weekday()) if period == "week" else r.day.replace(day=1)
        b = buckets.setdefault(
            key,
            {"period_start": key, "saved": 0, "deposits": 0, "new_members": 0, "savers_days": 0},
        )
        b["saved"] += r.amount_saved
        b["deposits"] += r.deposits
        b["new_members"] += r.new_members
        b["savers_days"] += r.active_savers
        b["total_saved"] = r.total_saved
    return [buckets[k] for k in sorted(buckets)]
