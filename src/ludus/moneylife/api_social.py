"""Partner analytics (§4.5), the teacher's classroom view and head-to-head matches."""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from ludus.core.auth.models import Membership, Role
from ludus.core.http.session import DbSession
from ludus.core.kit import clock
from ludus.core.kit.errors import Forbidden, NotFound
from ludus.core.kit.schemas import Envelope, InputSchema, ok
from ludus.engagement.challenges import service as challenges
from ludus.engagement.models import Classroom, ClassroomMember
from ludus.moneylife import analytics, service
from ludus.moneylife.auth import CurrentPlayer, PartnerReader, Teacher
from ludus.moneylife.errors import MatchInvalid
from ludus.moneylife.models import Game, Match
from ludus.moneylife.schemas import Difficulty, Persona

partner_router = APIRouter(prefix="/partner/analytics", tags=["moneylife-partner"])
router = APIRouter(prefix="/moneylife", tags=["moneylife"])
MATCH_DAYS = 7


@partner_router.get("/overview", response_model=Envelope[dict[str, Any]])
async def overview(principal: PartnerReader, session: DbSession) -> Any:
    return ok(await analytics.overview(session, principal.require_tenant(), clock.utcnow()))


@partner_router.get("/engagement", response_model=Envelope[dict[str, Any]])
async def engagement(
    principal: PartnerReader,
    session: DbSession,
    from_: date | None = Query(None, alias="from"),
    to: date | None = None,
) -> Any:
    end = to or clock.utcnow().date()
    start = from_ or end - timedelta(days=30)
    if start > end or (end - start).days > 366:
        raise MatchInvalid("Use a range of at most a year with from <= to.")
    return ok(await analytics.engagement(session, principal.require_tenant(), start, end))


@partner_router.get("/learning", response_model=Envelope[dict[str, Any]])
async def learning(principal: PartnerReader, session: DbSession) -> Any:
    return ok(await analytics.learning(session, principal.require_tenant()))


class MemberProgress(BaseModel):
    user_id: uuid.UUID
    game_id: uuid.UUID | None
    persona: str | None = None
    level: int | None = None
    total_xp: int | None = None
    chi_score: int | None = None
    net_worth: int | None = None
    budget_score: int | None = None
    current_game_date: date | None = None
    bankruptcy_active: bool | None = None
    streak: int | None = None
    last_played_at: datetime | None = None


@router.get("/classrooms/{classroom_id}/progress", response_model=Envelope[list[MemberProgress]])
async def classroom_progress(
    classroom_id: uuid.UUID, principal: Teacher, session: DbSession
) -> Any:
    tenant_id = principal.require_tenant()
    room = await session.scalar(
        select(Classroom).where(Classroom.id == classroom_id, Classroom.tenant_id == tenant_id)
    )
    if room is None:
        raise NotFound("Classroom not found.")
    if principal.role == Role.teacher and room.teacher_id != principal.user_id:
        raise Forbidden("Only the classroom's teacher sees its progress.")
    members = (
        await session.scalars(
            select(ClassroomMember.user_id).where(
                ClassroomMember.classroom_id == classroom_id, ClassroomMember.status == "active"
            )
        )
    ).all()
    games = (
        await session.scalars(
            select(Game)
            .where(Game.tenant_id == tenant_id, Game.user_id.in_(members))
            .order_by(Game.user_id, Game.created_at.desc())
            .distinct(Game.user_id)
        )
    ).all()
    by_user = {g.user_id: g for g in games}
    out = []
    for user_id in members:
        g = by_user.get(user_id)
        if g is None:
            out.append(MemberProgress(user_id=user_id, game_id=None))
            continue
        out.append(
            MemberProgress(
                user_id=user_id,
                game_id=g.id,
                persona=g.persona,
                level=g.current_level,
                total_xp=g.total_xp,
                chi_score=g.chi_score,
                net_worth=g.net_worth,
                budget_score=g.budget_score,
                current_game_date=g.current_game_date,
                bankruptcy_active=g.bankruptcy_active,
                streak=g.streak_current,
                last_played_at=g.last_played_at,
            )
        )
    out.sort(key=lambda m: (-(m.total_xp or -1), str(m.user_id)))
    return ok(out)


class MatchIn(InputSchema):
    opponent_user_id: uuid.UUID
    persona: Persona = "young_adult"
    difficulty: Difficulty = "normal"
    name: str = Field("Head-to-head", min_length=1, max_length=200)


class MatchOut(BaseModel):
    match_id: uuid.UUID
    challenge_id: uuid.UUID | None
    seed: int
    your_game_id: uuid.UUID
    opponent_game_id: uuid.UUID
    days: int


@router.post("/matches", response_model=Envelope[MatchOut], status_code=201)
async def create_match(body: MatchIn, player: CurrentPlayer, session: DbSession) -> Any:
    """Two games from one seed: both players are dealt the same cards in the same order
    while their choices keep the decks' eligibility the same (same persona and level)."""
    if body.opponent_user_id == player.user_id:
        raise MatchInvalid("Pick another player.")
    member = await session.scalar(
        select(Membership.id).where(
            Membership.tenant_id == player.tenant_id, Membership.user_id == body.opponent_user_id
        )
    )
    if member is None:
        raise MatchInvalid("The opponent is not in this tenant.")
    seed = random.SystemRandom().randrange(1, 2**62)
    match_id = uuid.uuid4()
    mine, _ = await service.new_game(
        session,
        tenant_id=player.tenant_id,
        user_id=player.user_id,
        persona=body.persona,
        difficulty=body.difficulty,
        currency_code="USD",
        seed=seed,
        match_id=match_id,
    )
    theirs, _ = await service.new_game(
        session,
        tenant_id=player.tenant_id,
        user_id=body.opponent_user_id,
        persona=body.persona,
        difficulty=body.difficulty,
        currency_code="USD",
        seed=seed,
        match_id=match_id,
    )
    now = clock.utcnow()
    challenge = await challenges.create(
        session,
        tenant_id=player.tenant_id,
        product="moneylife",
        kind="head_to_head",
        name=body.name,
        description="Same start, same cards for 7 game days.",
        config={"event_types": ["game.card.resolved"], "match_id": str(match_id)},
        scoring={},
        rewards={},
        starts_at=now,
        ends_at=now + timedelta(days=MATCH_DAYS),
        created_by=player.user_id,
    )
    for user_id in (player.user_id, body.opponent_user_id):
        await challenges.join(
            session, tenant_id=player.tenant_id, challenge_id=challenge.id, user_id=user_id
        )
    session.add(
        Match(
            id=match_id,
            tenant_id=player.tenant_id,
            challenge_id=challenge.id,
            seed=seed,
            player_a=player.user_id,
            player_b=body.opponent_user_id,
            game_a=mine,
            game_b=theirs,
            days=MATCH_DAYS,
        )
    )
    await session.flush()
    return ok(
        MatchOut(
            match_id=match_id,
            challenge_id=challenge.id,
            seed=seed,
            your_game_id=mine,
            opponent_game_id=theirs,
            days=MATCH_DAYS,
        )
    )
