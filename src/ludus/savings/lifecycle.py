"""Deadline closing and scheduled reminders (start/end of challenges, streaks at risk)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.core.tenancy.models import Tenant
from ludus.engagement.challenges.models import Challenge, Contribution, Participant
from ludus.savings import notify, progress, repository
from ludus.savings.challenges import PRODUCT, tz_of
from ludus.savings.models import Member


async def close_due(db: Database) -> int:
    """Finalize every active savings challenge whose end has passed, one per transaction."""
    async with db.session(system=True) as s:
        rows = await s.execute(
            select(Challenge.id, Challenge.tenant_id).where(
                Challenge.product == PRODUCT,
                Challenge.status == "active",
                Challenge.ends_at <= clock.utcnow(),
            )
        )
        due = rows.all()
    for challenge_id, tenant_id in due:
        async with db.session(tenant_id=tenant_id) as s:
            await close_one(s, tenant_id, challenge_id)
    return len(due)


async def close_one(session: AsyncSession, tenant_id: uuid.UUID, challenge_id: uuid.UUID) -> None:
    challenge = (
        await session.execute(
            select(Challenge)
            .where(Challenge.id == challenge_id, Challenge.status == "active")
            .with_for_update()
        )
    ).scalar_one_or_none()
    if challenge is None:
        return  # another worker closed it
    tenant = await session.get(Tenant, tenant_id)
    org = await repository.get_org(session, tenant_id)
    assert tenant is not None
    ranked = await progress.finalize(session, tenant, challenge)
    if org is None:
        return
    members = {
        m.user_id: m
        for m in (
            await session.execute(
                select(Member).where(
                    Member.tenant_id == tenant_id, Member.user_id.in_([r.user_id for r in ranked])
                )
            )
        ).scalars()
    }
    for r in ranked:
        member = members.get(r.user_id)
        if member is not None:
            await notify.send(
                session,
                org,
                member,
                "savings.challenge_result",
                {
                    "challenge": challenge.name,
                    "rank": r.rank,
                    "points": r.score,
                    "completed": r.completed,
                },
                dedupe_key=f"savings:result:{challenge.id}:{member.id}",
            )


async def send_reminders(db: Database) -> int:
    """Challenges starting or ending within a day, and weekly streaks at risk."""
    now = clock.utcnow()
    sent = 0
    async with db.session(system=True) as s:
        rows = await s.execute(
            select(Challenge).where(
                Challenge.product == PRODUCT, Challenge.status == "active", Challenge.ends_at > now
            )
        )
        challenges = rows.scalars().all()
    for challenge in challenges:
        async with db.session(tenant_id=challenge.tenant_id) as s:
            sent += await _remind(s, challenge, now)
    return sent


async def _remind(session: AsyncSession, challenge: Challenge, now: object) -> int:
    from datetime import datetime

    assert isinstance(now, datetime)
    tenant = await session.get(Tenant, challenge.tenant_id)
    org = await repository.get_org(session, challenge.tenant_id)
    if tenant is None or org is None:
        return 0
    rows = await session.execute(
        select(Participant, Member)
        .join(
            Member,
            (Member.user_id == Participant.user_id) & (Member.tenant_id == Participant.tenant_id),
        )
        .where(Participant.challenge_id == challenge.id, Participant.status == "active")
    )
    zone = tz_of(tenant)
    sent = 0
    starting = now <= challenge.starts_at < now + timedelta(days=1)
    ending = now < challenge.ends_at <= now + timedelta(days=1)
    week_start = challenge.starts_at + timedelta(days=7 * ((now - challenge.starts_at).days // 7))
    for participant, member in rows.all():
        day = now.astimezone(zone).date().isoformat()
        if starting:
            await notify.send(
                session,
                org,
                member,
                "savings.challenge_starting",
                {
                    "challenge": challenge.name,
                    "when": challenge.starts_at.astimezone(zone).strftime("%d %b %H:%M"),
                },
                dedupe_key=f"savings:start:{challenge.id}:{member.id}",
            )
            sent += 1
        elif ending:
            rank = await progress.live_rank(session, participant)
            await notify.send(
                session,
                org,
                member,
                "savings.challenge_ending",
                {
                    "challenge": challenge.name,
                    "when": challenge.ends_at.astimezone(zone).strftime("%d %b %H:%M"),
                    "rank": rank,
                    "points": participant.score,
                },
                dedupe_key=f"savings:end:{challenge.id}:{member.id}",
            )
            sent += 1
        elif (
            challenge.kind in ("streak", "fixed_amount")
            and now >= challenge.starts_at
            and week_start + timedelta(days=7) - now <= timedelta(days=2)
        ):
            saved = await session.scalar(
                select(Contribution.id)
                .where(
                    Contribution.challenge_id == challenge.id,
                    Contribution.user_id == member.user_id,
                    Contribution.occurred_at >= week_start,
                )
                .limit(1)
            )
            if saved is None:
                weeks = (now - challenge.starts_at).days // 7
                await notify.send(
                    session,
                    org,
                    member,
                    "savings.streak_at_risk",
                    {
                        "challenge": challenge.name,
                        "weeks": weeks,
                        "deadline": (week_start + timedelta(days=7))
                        .astimezone(zone)
                        .strftime("%a %d %b"),
                    },
                    dedupe_key=f"savings:risk:{challenge.id}:{member.id}:{day}",
                )
                sent += 1
    return sent
