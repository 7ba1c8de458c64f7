"""Challenges: definition, join/leave, progress from events, final ranking and payout."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.core.kit.errors import NotFound
from ludus.core.tenancy.models import Tenant
from ludus.engagement import coins, errors
from ludus.engagement.challenges import scoring
from ludus.engagement.challenges.models import Challenge, Contribution, Participant
from ludus.engagement.leaderboards.base import Entry
from ludus.engagement.leaderboards.service import backend_for, challenge_board
from ludus.engagement.models import ClassroomMember, Team
from ludus.engagement.outbox import publish
from ludus.engagement.rules import load_rules

_TARGET_KEYS = {
    "fixed_amount": ("amount",),
    "percentage": ("increase_pct",),
    "streak": ("consecutive",),
    "group": ("team_amount",),
}


def validate(kind: str, config: dict[str, Any], classroom_id: uuid.UUID | None) -> None:
    if kind not in scoring.KINDS:
        raise errors.ChallengeInvalid(details={"kind": kind, "allowed": list(scoring.KINDS)})
    events = config.get("event_types")
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise errors.ChallengeInvalid(details={"config.event_types": "a non-empty list"})
    target = config.get("target", {})
    for key in _TARGET_KEYS.get(kind, ()):
        value = target.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise errors.ChallengeInvalid(details={f"config.target.{key}": "a positive integer"})
    if kind == "fixed_amount" and target.get("frequency", "weekly") not in (
        "daily",
        "weekly",
        "monthly",
    ):
        raise errors.ChallengeInvalid(details={"config.target.frequency": "daily|weekly|monthly"})
    if kind == "classroom" and classroom_id is None:
        raise errors.ChallengeInvalid(details={"classroom_id": "required for classroom"})


async def create(session: AsyncSession, *, tenant_id: uuid.UUID, **fields: Any) -> Challenge:
    validate(fields["kind"], fields.get("config", {}), fields.get("classroom_id"))
    if fields["ends_at"] <= fields["starts_at"]:
        raise errors.ChallengeInvalid(details={"ends_at": "must be after starts_at"})
    if fields["kind"] == "head_to_head":
        fields["max_participants"] = 2
    now = clock.utcnow()
    challenge = Challenge(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        status="upcoming" if fields["starts_at"] > now else "active",
        **fields,
    )
    session.add(challenge)
    await session.flush()
    return challenge


async def get(session: AsyncSession, tenant_id: uuid.UUID, challenge_id: uuid.UUID) -> Challenge:
    row = await session.scalar(
        select(Challenge).where(Challenge.id == challenge_id, Challenge.tenant_id == tenant_id)
    )
    if row is None:
        raise NotFound("Challenge not found.")
    return row


async def list_challenges(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    kind: str | None,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[Sequence[Challenge], int]:
    query = select(Challenge).where(Challenge.tenant_id == tenant_id)
    if kind:
        query = query.where(Challenge.kind == kind)
    if status:
        query = query.where(Challenge.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(Challenge.starts_at.desc()).offset(offset).limit(limit)
    )
    return rows.scalars().all(), total


async def _participant(
    session: AsyncSession, challenge_id: uuid.UUID, user_id: uuid.UUID
) -> Participant | None:
    return await session.scalar(
        select(Participant).where(
            Participant.challenge_id == challenge_id, Participant.user_id == user_id
        )
    )


async def join(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    challenge_id: uuid.UUID,
    user_id: uuid.UUID,
    team_id: uuid.UUID | None = None,
    baseline: int = 0,
) -> Participant:
    challenge = await session.scalar(
        select(Challenge)
        .where(Challenge.id == challenge_id, Challenge.tenant_id == tenant_id)
        .with_for_update()
    )
    if challenge is None:
        raise NotFound("Challenge not found.")
    now = clock.utcnow()
    if challenge.status in ("ended", "cancelled") or now >= challenge.ends_at:
        raise errors.ChallengeClosed(details={"status": challenge.status})
    if challenge.classroom_id is not None:
        member = await session.scalar(
            select(ClassroomMember.id).where(
                ClassroomMember.classroom_id == challenge.classroom_id,
                ClassroomMember.user_id == user_id,
                ClassroomMember.status == "active",
            )
        )
        if member is None:
            raise errors.ChallengeNotMember()
    if team_id is not None:
        team = await session.scalar(
            select(Team.id).where(Team.id == team_id, Team.challenge_id == challenge_id)
        )
        if team is None:
            raise errors.ChallengeInvalid(details={"team_id": "not a team of this challenge"})
    existing = await _participant(session, challenge_id, user_id)
    if existing is not None and existing.status == "active":
        raise errors.ChallengeAlreadyJoined()
    active = await session.scalar(
        select(func.count()).where(
            Participant.challenge_id == challenge_id, Participant.status == "active"
        )
    )
    if challenge.max_participants and (active or 0) >= challenge.max_participants:
        raise errors.ChallengeFull(details={"max": challenge.max_participants})
    if existing is not None:
        existing.status, existing.left_at, existing.team_id = "active", None, team_id
        existing.baseline = baseline or existing.baseline
        await session.flush()
        return existing
    row = Participant(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        challenge_id=challenge_id,
        user_id=user_id,
        team_id=team_id,
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
    session.add(row)
    await session.flush()
    await publish(
        session,
        "social.challenge.joined",
        tenant_id,
        {"user_id": user_id, "challenge_id": challenge_id},
    )
    return row


async def create_team(
    session: AsyncSession, *, tenant_id: uuid.UUID, challenge_id: uuid.UUID, name: str
) -> Team:
    challenge = await get(session, tenant_id, challenge_id)
    if challenge.kind not in ("group", "classroom"):
        raise errors.ChallengeInvalid(details={"kind": "teams are for group/classroom"})
    team = Team(id=uuid.uuid4(), tenant_id=tenant_id, challenge_id=challenge_id, name=name)
    session.add(team)
    await session.flush()
    return team


async def leave(
    session: AsyncSession, *, tenant_id: uuid.UUID, challenge_id: uuid.UUID, user_id: uuid.UUID
) -> Participant:
    challenge = await get(session, tenant_id, challenge_id)
    if challenge.status in ("ended", "cancelled"):
        raise errors.ChallengeClosed(details={"status": challenge.status})
    if not challenge.config.get("allow_leave", True):
        raise errors.ChallengeClosed(details={"leave": "not allowed for this challenge"})
    row = await _participant(session, challenge_id, user_id)
    if row is None or row.status != "active":
        raise errors.ChallengeNotJoined()
    row.status, row.left_at = "left", clock.utcnow()
    await session.flush()
    return row


async def _timezone(session: AsyncSession, challenge: Challenge) -> ZoneInfo:
    tz = challenge.config.get("timezone") or await session.scalar(
        select(Tenant.timezone).where(Tenant.id == challenge.tenant_id)
    )
    return ZoneInfo(tz or "UTC")


async def _results(
    session: AsyncSession, challenge: Challenge, participants: Sequence[Participant]
) -> list[scoring.Result]:
    entries: dict[uuid.UUID, list[scoring.Entry]] = defaultdict(list)
    rows = await session.execute(
        select(Contribution.user_id, Contribution.occurred_at, Contribution.amount).where(
            Contribution.challenge_id == challenge.id,
            Contribution.user_id.in_([p.user_id for p in participants]),
        )
    )
    for user_id, at, amount in rows:
        entries[user_id].append(scoring.Entry(at, amount))
    rules = scoring.ScoringRules.from_dict(challenge.scoring)
    tz = await _timezone(session, challenge)
    target = challenge.config.get("target", {})
    results = [
        scoring.score_one(
            kind=challenge.kind,
            target=target,
            rules=rules,
            start=challenge.starts_at,
            end=challenge.ends_at,
            tz=tz,
            user_id=p.user_id,
            team_id=p.team_id,
            entries=entries[p.user_id],
            baseline=p.baseline,
            joined_at=p.joined_at,
        )
        for p in participants
    ]
    if challenge.kind == "group":
        scoring.apply_group_target(results, target, rules)
    return results


async def contribute(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    event_id: uuid.UUID,
    event_type: str,
    amount: int,
    at: datetime,
) -> int:
    """Count an event toward every running challenge the user is in; returns how many."""
    rows = await session.execute(
        select(Challenge, Participant)
        .join(Participant, Participant.challenge_id == Challenge.id)
        .where(
            Challenge.tenant_id == tenant_id,
            Challenge.status.in_(("upcoming", "active")),
            Challenge.starts_at <= at,
            Challenge.ends_at > at,
            Participant.user_id == user_id,
            Participant.status == "active",
            Challenge.config["event_types"].contains([event_type]),
        )
    )
    counted = 0
    for challenge, participant in rows.tuples():
        new = await session.scalar(
            insert(Contribution)
            .values(
                tenant_id=tenant_id,
                challenge_id=challenge.id,
                user_id=user_id,
                event_id=event_id,
                amount=amount,
                occurred_at=at,
            )
            .on_conflict_do_nothing()
            .returning(Contribution.id)
        )
        if new is None:
            continue
        counted += 1
        (result,) = await _results(session, challenge, [participant])
        participant.total, participant.completed = result.total, result.completed
        if result.score != participant.score:
            participant.score, participant.reached_at = result.score, at
        await backend_for(session).submit(
            tenant_id,
            challenge_board(challenge.id),
            "all",
            user_id,
            participant.score,
            participant.reached_at or at,
            "set",
        )
    await session.flush()
    return counted


async def finalize(session: AsyncSession, challenge: Challenge, now: datetime) -> list[dict]:
    participants = (
        (
            await session.execute(
                select(Participant).where(
                    Participant.challenge_id == challenge.id, Participant.status == "active"
                )
            )
        )
        .scalars()
        .all()
    )
    results = await _results(session, challenge, participants)
    ranked = scoring.rank(results)
    scoring.payouts(challenge.kind, challenge.rewards, ranked)
    by_user = {p.user_id: p for p in participants}
    coin_rules = (await load_rules(session, challenge.tenant_id, challenge.product)).coins
    board = []
    for r in ranked:
        p = by_user[r.user_id]
        p.score, p.total, p.completed, p.rank, p.reward_coins = (
            r.score,
            r.total,
            r.completed,
            r.rank,
            r.coins,
        )
        if r.coins and not p.reward_paid:
            await coins.earn(
                session,
                tenant_id=challenge.tenant_id,
                user_id=r.user_id,
                amount=r.coins,
                reason="challenge_reward",
                reference=f"challenge:{challenge.id}",
                idempotency_key=f"challenge:{challenge.id}:{r.user_id}",
                rules=coin_rules,
                enforce_limits=False,
            )
            p.reward_paid = True
        board.append(
            {
                "user_id": str(r.user_id),
                "team_id": str(r.team_id) if r.team_id else None,
                "rank": r.rank,
                "score": r.score,
                "total": r.total,
                "completed": r.completed,
                "coins": r.coins,
            }
        )
    challenge.status, challenge.ended_at, challenge.results = "ended", now, board
    await session.flush()
    await publish(
        session,
        "social.challenge.ended",
        challenge.tenant_id,
        {
            "challenge_id": challenge.id,
            "kind": challenge.kind,
            "sponsor_tenant_id": challenge.sponsor_tenant_id,
            "rankings": board,
        },
    )
    return board


async def finalize_due_challenges(session: AsyncSession, now: datetime | None = None) -> int:
    """Periodic job body: start due challenges and finalize ended ones (each exactly once)."""
    now = now or clock.utcnow()
    started = (
        (
            await session.execute(
                select(Challenge)
                .where(Challenge.status == "upcoming", Challenge.starts_at <= now)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for challenge in started:
        challenge.status = "active"
    due = (
        (
            await session.execute(
                select(Challenge)
                .where(Challenge.status.in_(("upcoming", "active")), Challenge.ends_at <= now)
                .order_by(Challenge.ends_at)
                .limit(100)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for challenge in due:
        await finalize(session, challenge, now)
    return len(due)


async def leaderboard(
    session: AsyncSession, tenant_id: uuid.UUID, challenge_id: uuid.UUID, offset: int, limit: int
) -> tuple[list[Entry], int]:
    await get(session, tenant_id, challenge_id)
    backend = backend_for(session)
    board = challenge_board(challenge_id)
    return (
        await backend.top(tenant_id, board, "all", offset, limit),
        await backend.count(tenant_id, board, "all"),
    )
