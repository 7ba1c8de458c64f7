"""Savings challenges on the engagement kit's tables: CRUD, lifecycle, join rules, teams.

Lifecycle: draft → active → completed (deadline job) or cancelled. Only drafts change
their rules; deposits count while a challenge is active and inside [starts_at, ends_at).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.core.kit.errors import Forbidden, NotFound, error_code
from ludus.core.tenancy.models import Tenant
from ludus.engagement.challenges.models import Challenge, Participant
from ludus.engagement.models import Team
from ludus.savings import repository
from ludus.savings.challenge_schemas import (
    TARGETS,
    ChallengeIn,
    ChallengeOut,
    ChallengePatch,
    JoinIn,
)
from ludus.savings.models import Member, MemberStatus
from ludus.savings.service import MemberInactive, _audit

PRODUCT = "savings"
BadTransition = error_code(409, "SAVINGS_CHALLENGE_STATE", "The challenge cannot do that now.")
JoinClosed = error_code(409, "SAVINGS_JOIN_CLOSED", "This challenge is not open for joining.")
ChallengeFull = error_code(409, "SAVINGS_CHALLENGE_FULL", "The challenge is full.")
TeamRequired = error_code(422, "SAVINGS_TEAM_REQUIRED", "Group challenges need a team_id.")
TRANSITIONS = {"draft": {"active", "cancelled"}, "active": {"cancelled"}}


def tz_of(tenant: Tenant) -> ZoneInfo:
    return ZoneInfo(tenant.timezone or "UTC")


def _window(tenant: Tenant, start: Any, days: int) -> tuple[datetime, datetime]:
    starts = datetime.combine(start, time(0), tzinfo=tz_of(tenant))
    return starts, starts + timedelta(days=days)


async def get_challenge(
    session: AsyncSession, tenant_id: uuid.UUID, challenge_id: uuid.UUID, *, lock: bool = False
) -> Challenge:
    query = select(Challenge).where(
        Challenge.tenant_id == tenant_id, Challenge.id == challenge_id, Challenge.product == PRODUCT
    )
    if lock:
        query = query.with_for_update()
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None:
        raise NotFound("Challenge not found.")
    return found


async def create(
    session: AsyncSession, tenant: Tenant, data: ChallengeIn, *, actor: uuid.UUID | None
) -> Challenge:
    starts, ends = _window(tenant, data.start_date, data.duration_days)
    challenge = Challenge(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        product=PRODUCT,
        kind=data.type,
        name=data.name,
        description=data.description,
        config={
            "target": data.target,
            "join": data.join_rules.model_dump(),
            "duration_days": data.duration_days,
        },
        scoring=data.scoring.stored(),
        rewards={},
        starts_at=starts,
        ends_at=ends,
        max_participants=data.max_participants,
        status="draft",
        created_by=actor,
    )
    session.add(challenge)
    await session.flush()
    await _audit(
        session,
        tenant.id,
        actor,
        "challenge_created",
        "challenge",
        challenge.id,
        after={"name": data.name, "type": data.type},
    )
    return challenge


async def update(
    session: AsyncSession,
    tenant: Tenant,
    challenge_id: uuid.UUID,
    data: ChallengePatch,
    *,
    actor: uuid.UUID | None,
) -> Challenge:
    challenge = await get_challenge(session, tenant.id, challenge_id, lock=True)
    before = {"status": challenge.status, "name": challenge.name}
    rules_change = any(
        v is not None
        for v in (data.target, data.start_date, data.duration_days, data.scoring, data.join_rules)
    )
    if rules_change and challenge.status != "draft":
        raise BadTransition("Only draft challenges can change their rules.")
    if challenge.status in ("completed", "cancelled"):
        raise BadTransition(details={"status": challenge.status})
    if data.name is not None:
        challenge.name = data.name
    if data.description is not None:
        challenge.description = data.description
    config = dict(challenge.config)
    if data.target is not None:
        config["target"] = TARGETS[challenge.kind].model_validate(data.target).model_dump()
    if data.join_rules is not None:
        config["join"] = data.join_rules.model_dump()
    if data.start_date is not None or data.duration_days is not None:
        days = data.duration_days or int(config["duration_days"])
        start = data.start_date or challenge.starts_at.astimezone(tz_of(tenant)).date()
        challenge.starts_at, challenge.ends_at = _window(tenant, start, days)
        config["duration_days"] = days
    challenge.config = config
    if data.scoring is not None:
        challenge.scoring = data.scoring.stored()
    if data.status is not None and data.status != challenge.status:
        if data.status not in TRANSITIONS.get(challenge.status, set()):
            raise BadTransition(details={"from": challenge.status, "to": data.status})
        if data.status == "active" and challenge.ends_at <= clock.utcnow():
            raise BadTransition("The challenge's end date has passed.")
        challenge.status = data.status
        if data.status == "cancelled":
            challenge.ended_at = clock.utcnow()
    await session.flush()
    await _audit(
        session,
        tenant.id,
        actor,
        "challenge_updated",
        "challenge",
        challenge.id,
        before=before,
        after={"status": challenge.status, "name": challenge.name},
    )
    return challenge


async def delete(
    session: AsyncSession, tenant: Tenant, challenge_id: uuid.UUID, *, actor: uuid.UUID | None
) -> Challenge:
    """Drafts are deleted; a running challenge is cancelled (its history stays)."""
    challenge = await get_challenge(session, tenant.id, challenge_id, lock=True)
    if challenge.status == "draft":
        await session.delete(challenge)
        await session.flush()
        await _audit(session, tenant.id, actor, "challenge_deleted", "challenge", challenge_id)
        challenge.status = "deleted"
        return challenge
    return await update(
        session, tenant, challenge_id, ChallengePatch(status="cancelled"), actor=actor
    )


async def list_challenges(
    session: AsyncSession, tenant_id: uuid.UUID, *, status: str | None, offset: int, limit: int
) -> tuple[Sequence[Challenge], int]:
    query = select(Challenge).where(Challenge.tenant_id == tenant_id, Challenge.product == PRODUCT)
    if status:
        query = query.where(Challenge.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(Challenge.starts_at.desc(), Challenge.id).offset(offset).limit(limit)
    )
    return rows.scalars().all(), total


async def to_out(session: AsyncSession, tenant: Tenant, challenge: Challenge) -> ChallengeOut:
    row = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(Participant.total), 0)).where(
                Participant.tenant_id == tenant.id,
                Participant.challenge_id == challenge.id,
                Participant.left_at.is_(None),
            )
        )
    ).one()
    zone = tz_of(tenant)
    return ChallengeOut(
        id=challenge.id,
        name=challenge.name,
        description=challenge.description,
        type=challenge.kind,
        target=challenge.config.get("target", {}),
        scoring=challenge.scoring,
        join_rules=challenge.config.get("join", {}),
        start_date=challenge.starts_at.astimezone(zone).date(),
        end_date=(challenge.ends_at - timedelta(seconds=1)).astimezone(zone).date(),
        duration_days=int(challenge.config.get("duration_days", 0)),
        starts_at=challenge.starts_at,
        ends_at=challenge.ends_at,
        status=challenge.status,
        participants_count=int(row[0]),
        total_saved=int(row[1]),
        max_participants=challenge.max_participants,
        created_by=challenge.created_by,
    )


async def add_team(
    session: AsyncSession,
    tenant: Tenant,
    challenge_id: uuid.UUID,
    name: str,
    *,
    actor: uuid.UUID | None,
) -> Team:
    challenge = await get_challenge(session, tenant.id, challenge_id)
    if challenge.status in ("completed", "cancelled"):
        raise BadTransition(details={"status": challenge.status})
    team = Team(id=uuid.uuid4(), tenant_id=tenant.id, challenge_id=challenge.id, name=name)
    session.add(team)
    await session.flush()
    await _audit(session, tenant.id, actor, "team_created", "team", team.id, after={"name": name})
    return team


async def teams_of(
    session: AsyncSession, tenant_id: uuid.UUID, challenge_id: uuid.UUID
) -> Sequence[Team]:
    rows = await session.execute(
        select(Team)
        .where(Team.tenant_id == tenant_id, Team.challenge_id == challenge_id)
        .order_by(Team.created_at, Team.id)
    )
    return rows.scalars().all()


async def join(
    session: AsyncSession,
    tenant: Tenant,
    challenge_id: uuid.UUID,
    member: Member,
    data: JoinIn,
    *,
    by_admin: bool,
) -> Participant:
    from ludus.savings import progress

    challenge = await get_challenge(session, tenant.id, challenge_id, lock=True)
    existing = (
        await session.execute(
            select(Participant).where(
                Participant.challenge_id == challenge.id, Participant.user_id == member.user_id
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing  # joining twice is a no-op
    rules = challenge.config.get("join", {})
    now = clock.utcnow()
    if member.status != MemberStatus.active:
        raise MemberInactive()
    if challenge.status not in ("draft", "active") or now >= challenge.ends_at:
        raise JoinClosed(details={"status": challenge.status})
    if not by_admin and not rules.get("self_join", True):
        raise Forbidden("Only an admin can enrol members in this challenge.")
    late = rules.get("late_join_days")
    if late is not None and now > challenge.starts_at + timedelta(days=int(late)):
        raise JoinClosed("The joining window has closed.")
    if now - member.created_at < timedelta(days=int(rules.get("min_membership_days", 0))):
        raise JoinClosed(
            "You have not been a member long enough.",
            details={"min_membership_days": rules.get("min_membership_days")},
        )
    count = (
        await session.scalar(select(func.count()).where(Participant.challenge_id == challenge.id))
        or 0
    )
    if challenge.max_participants is not None and count >= challenge.max_participants:
        raise ChallengeFull()
    if challenge.kind == "group" and data.team_id is None:
        raise TeamRequired()
    if data.team_id is not None:
        team = (
            await session.execute(
                select(Team).where(
                    Team.tenant_id == tenant.id,
                    Team.id == data.team_id,
                    Team.challenge_id == challenge.id,
                )
            )
        ).scalar_one_or_none()
        if team is None:
            raise NotFound("Team not found in this challenge.")
    baseline = 0
    if challenge.kind == "percentage":
        baseline = await progress.last_month_total(session, tenant, member, challenge.starts_at)
    await session.execute(
        insert(Participant)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant.id,
            challenge_id=challenge.id,
            user_id=member.user_id,
            team_id=data.team_id,
            status="active",
            baseline=baseline,
            score=0,
            total=0,
            completed=False,
            reward_coins=0,
            reward_paid=False,
            joined_at=now,
            reached_at=now,
        )
        .on_conflict_do_nothing()
    )
    participant = (
        await session.execute(
            select(Participant).where(
                Participant.challenge_id == challenge.id, Participant.user_id == member.user_id
            )
        )
    ).scalar_one()
    await progress.after_join(session, tenant, challenge, member, participant)
    return participant


async def member_for_user(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> Member:
    member = await repository.member_by_user(session, tenant_id, user_id)
    if member is None:
        raise NotFound("You are not a member of this organization.")
    return member
