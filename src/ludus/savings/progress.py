"""Challenge progress: contributions, live scores, leaderboards, deadline results, badges.

Scores always come from the engagement kit's pure scoring functions over a participant's
contributions, so a live score and the final score use the same arithmetic.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.core.ledger import service as ledger
from ludus.core.tenancy.models import Tenant
from ludus.engagement.challenges import scoring
from ludus.engagement.challenges.models import Challenge, Contribution, Participant
from ludus.savings import badges
from ludus.savings.challenge_schemas import LeaderRow, TeamOut, engine_target
from ludus.savings.challenges import PRODUCT, tz_of
from ludus.savings.models import Deposit, Member

POINTS = "POINT"


async def last_month_total(
    session: AsyncSession, tenant: Tenant, member: Member, start: datetime
) -> int:
    """The member's deposits in the calendar month before the challenge starts."""
    local = start.astimezone(tz_of(tenant))
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    prev = (month_start - timedelta(days=1)).replace(day=1)
    total = await session.scalar(
        select(func.coalesce(func.sum(Deposit.amount), 0)).where(
            Deposit.tenant_id == tenant.id,
            Deposit.member_id == member.id,
            Deposit.transacted_at >= prev,
            Deposit.transacted_at < month_start,
        )
    )
    return int(total or 0)


async def _referrals(session: AsyncSession, challenge: Challenge, member_id: uuid.UUID) -> int:
    """How many members this member referred have joined the challenge."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Participant)
            .join(
                Member,
                and_(
                    Member.tenant_id == Participant.tenant_id, Member.user_id == Participant.user_id
                ),
            )
            .where(Participant.challenge_id == challenge.id, Member.referred_by == member_id)
        )
        or 0
    )


def score_of(
    tenant: Tenant,
    challenge: Challenge,
    participant: Participant,
    entries: list[scoring.Entry],
    referrals: int,
) -> scoring.Result:
    """The participant's live score from their contributions (pure arithmetic)."""
    result = scoring.score_one(
        kind=challenge.kind,
        target=engine_target(challenge.kind, challenge.config["target"]),
        rules=scoring.ScoringRules.from_dict(challenge.scoring),
        start=challenge.starts_at,
        end=challenge.ends_at,
        tz=tz_of(tenant),
        user_id=participant.user_id,
        team_id=participant.team_id,
        entries=entries,
        baseline=participant.baseline,
        joined_at=participant.joined_at,
    )
    result.score += int(challenge.scoring.get("referral_bonus", 0)) * referrals
    return result


async def compute(
    session: AsyncSession,
    tenant: Tenant,
    challenge: Challenge,
    participant: Participant,
    member_id: uuid.UUID | None,
) -> scoring.Result:
    rows = await session.execute(
        select(Contribution.occurred_at, Contribution.amount).where(
            Contribution.challenge_id == challenge.id, Contribution.user_id == participant.user_id
        )
    )
    entries = [scoring.Entry(at, amount) for at, amount in rows.all()]
    referrals = 0
    if int(challenge.scoring.get("referral_bonus", 0)) and member_id is not None:
        referrals = await _referrals(session, challenge, member_id)
    return score_of(tenant, challenge, participant, entries, referrals)


def store(participant: Participant, result: scoring.Result) -> None:
    participant.score = result.score
    participant.total = result.total
    participant.completed = result.completed
    participant.reached_at = result.reached_at


_ORDER = (Participant.score.desc(), Participant.reached_at.asc(), Participant.user_id.asc())


async def live_rank(session: AsyncSession, participant: Participant) -> int:
    better = await session.scalar(
        select(func.count()).where(
            Participant.challenge_id == participant.challenge_id,
            Participant.left_at.is_(None),
            (Participant.score > participant.score)
            | and_(
                Participant.score == participant.score,
                Participant.reached_at < participant.reached_at,
            )
            | and_(
                Participant.score == participant.score,
                Participant.reached_at == participant.reached_at,
                Participant.user_id < participant.user_id,
            ),
        )
    )
    return int(better or 0) + 1


async def after_join(
    session: AsyncSession,
    tenant: Tenant,
    challenge: Challenge,
    member: Member,
    participant: Participant,
) -> None:
    """Count deposits already made in the window, and refresh the referrer's bonus."""
    deposits = await session.execute(
        select(Deposit.id, Deposit.amount, Deposit.transacted_at).where(
            Deposit.tenant_id == tenant.id,
            Deposit.member_id == member.id,
            Deposit.transacted_at >= challenge.starts_at,
            Deposit.transacted_at < challenge.ends_at,
        )
    )
    for dep_id, amount, at in deposits.all():
        await _contribute(session, tenant.id, challenge.id, member.user_id, dep_id, amount, at)
    store(participant, await compute(session, tenant, challenge, participant, member.id))
    if member.referred_by is not None:
        referrer = await session.get(Member, member.referred_by)
        if referrer is not None:
            other = (
                await session.execute(
                    select(Participant).where(
                        Participant.challenge_id == challenge.id,
                        Participant.user_id == referrer.user_id,
                    )
                )
            ).scalar_one_or_none()
            if other is not None:
                store(other, await compute(session, tenant, challenge, other, referrer.id))
    await session.flush()


async def _contribute(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    challenge_id: uuid.UUID,
    user_id: uuid.UUID,
    deposit_id: uuid.UUID,
    amount: int,
    at: datetime,
) -> bool:
    inserted = await session.execute(
        insert(Contribution)
        .values(
            tenant_id=tenant_id,
            challenge_id=challenge_id,
            user_id=user_id,
            event_id=deposit_id,
            amount=amount,
            occurred_at=at,
        )
        .on_conflict_do_nothing()
        .returning(Contribution.id)
    )
    return inserted.scalar_one_or_none() is not None


async def leaderboard(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    challenge: Challenge,
    *,
    team_id: uuid.UUID | None,
    offset: int,
    limit: int,
) -> tuple[list[LeaderRow], int]:
    base = (
        select(Participant, Member.id, Member.name)
        .outerjoin(
            Member,
            and_(Member.tenant_id == Participant.tenant_id, Member.user_id == Participant.user_id),
        )
        .where(
            Participant.tenant_id == tenant_id,
            Participant.challenge_id == challenge.id,
            Participant.left_at.is_(None),
        )
    )
    ranked = base.add_columns(func.row_number().over(order_by=_ORDER).label("pos"))
    if team_id is not None:
        ranked = ranked.where(Participant.team_id == team_id)
    total = await session.scalar(select(func.count()).select_from(ranked.subquery())) or 0
    rows = await session.execute(ranked.order_by(*_ORDER).offset(offset).limit(limit))
    out = [
        LeaderRow(
            rank=pos,
            member_id=mid,
            user_id=p.user_id,
            name=name,
            team_id=p.team_id,
            score=p.score,
            total_saved=p.total,
            completed=p.completed,
        )
        for p, mid, name, pos in cast(
            "list[tuple[Participant, uuid.UUID | None, str | None, int]]", rows.all()
        )
    ]
    return out, int(total)


async def team_board(
    session: AsyncSession, tenant_id: uuid.UUID, challenge: Challenge
) -> list[TeamOut]:
    from ludus.engagement.models import Team

    rows = await session.execute(
        select(
            Team.id,
            Team.name,
            func.count(Participant.id),
            func.coalesce(func.sum(Participant.total), 0),
            func.coalesce(func.sum(Participant.score), 0),
            func.max(Participant.reached_at),
        )
        .outerjoin(
            Participant,
            and_(Participant.team_id == Team.id, Participant.challenge_id == challenge.id),
        )
        .where(Team.tenant_id == tenant_id, Team.challenge_id == challenge.id)
        .group_by(Team.id, Team.name)
    )
    target = challenge.config.get("target", {})
    teams = []
    for tid, name, members, saved, score, reached in rows.all():
        done = (
            challenge.kind == "group"
            and saved >= int(target.get("team_amount", 0))
            and members >= int(target.get("min_members", 1))
        )
        teams.append(
            (
                TeamOut(
                    id=tid,
                    name=name,
                    total_members=members,
                    total_saved=int(saved),
                    score=int(score),
                    completed=done,
                ),
                reached,
            )
        )
    far = datetime.max.replace(tzinfo=clock.utcnow().tzinfo)
    teams.sort(key=lambda t: (-t[0].score, t[1] or far, str(t[0].id)))
    for i, (team, _) in enumerate(teams, start=1):
        team.rank = i
    return [t for t, _ in teams]


async def finalize(
    session: AsyncSession, tenant: Tenant, challenge: Challenge
) -> list[scoring.Result]:
    """Deadline: final scores, completion or failure, ranks, points on the ledger, badges."""
    parts = (
        (
            await session.execute(
                select(Participant)
                .where(Participant.challenge_id == challenge.id, Participant.left_at.is_(None))
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    members = {
        m.user_id: m
        for m in (
            await session.execute(
                select(Member).where(
                    Member.tenant_id == tenant.id, Member.user_id.in_([p.user_id for p in parts])
                )
            )
        ).scalars()
    }
    results = []
    for p in parts:
        m = members.get(p.user_id)
        results.append(await compute(session, tenant, challenge, p, m.id if m else None))
    if challenge.kind == "group":
        rules = scoring.ScoringRules.from_dict(challenge.scoring)
        scoring.apply_group_target(results, challenge.config["target"], rules)
    ranked = scoring.rank(results)
    by_user = {p.user_id: p for p in parts}
    org_points = await _points_source(session, tenant.id) if ranked else None
    for r in ranked:
        p = by_user[r.user_id]
        store(p, r)
        p.rank = r.rank
        p.status = "completed" if r.completed else "failed"
        if r.score > 0 and org_points is not None:
            await _award_points(session, tenant.id, org_points, challenge, r)
        await badges.on_result(session, tenant.id, challenge, r, len(ranked))
    challenge.status = "completed"
    challenge.ended_at = clock.utcnow()
    challenge.results = [
        {
            "user_id": str(r.user_id),
            "rank": r.rank,
            "score": r.score,
            "total": r.total,
            "completed": r.completed,
            "team_id": str(r.team_id) if r.team_id else None,
            "longest_run": int(r.detail.get("longest_run", 0)),
        }
        for r in ranked
    ]
    await session.flush()
    return ranked


async def _points_source(session: AsyncSession, tenant_id: uuid.UUID) -> uuid.UUID:
    await ledger.ensure_asset(session, tenant_id=tenant_id, code=POINTS, scale=0)
    account = await ledger.open_account(
        session,
        tenant_id=tenant_id,
        asset=POINTS,
        purpose="savings_points_issue",
        owner_type="system",
        allow_negative=True,
        name="Savings points issued",
    )
    return account.id


async def _award_points(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    source: uuid.UUID,
    challenge: Challenge,
    r: scoring.Result,
) -> None:
    account = await ledger.open_account(
        session,
        tenant_id=tenant_id,
        asset=POINTS,
        purpose="savings_points",
        owner_type="user",
        owner_id=r.user_id,
        name="Savings points",
    )
    await ledger.move(
        session,
        tenant_id=tenant_id,
        idempotency_key=f"savings:points:{challenge.id}:{r.user_id}",
        kind="savings.challenge_points",
        from_account=source,
        to_account=account.id,
        amount=r.score,
        metadata={"challenge_id": str(challenge.id), "rank": r.rank},
    )


async def progress_of(
    session: AsyncSession, tenant: Tenant, member: Member
) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Participant, Challenge)
        .join(Challenge, Challenge.id == Participant.challenge_id)
        .where(
            Participant.tenant_id == tenant.id,
            Participant.user_id == member.user_id,
            Challenge.product == PRODUCT,
        )
        .order_by(Challenge.starts_at.desc())
    )
    out = []
    for p, c in rows.all():
        result = await compute(session, tenant, c, p, member.id)
        rank = p.rank if c.status == "completed" else await live_rank(session, p)
        out.append(
            {
                "challenge_id": c.id,
                "challenge": c.name,
                "type": c.kind,
                "status": c.status,
                "participant_status": p.status,
                "score": p.score,
                "total_contributed": p.total,
                "completed": p.completed,
                "rank": rank,
                "detail": result.detail,
            }
        )
    return out
