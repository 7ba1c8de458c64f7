"""Savings routes: challenges, teams, leaderboards, member progress and analytics."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, status

from ludus.core.http.session import DbSession
from ludus.core.kit import clock
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import Envelope, PageEnvelope, ok
from ludus.core.tenancy import repository as tenant_repo
from ludus.savings import analytics, badges, challenges, progress, service
from ludus.savings.auth import OrgAdmin, OrgUser, is_admin, require_self_or_admin
from ludus.savings.challenge_schemas import (
    AchievementOut,
    ChallengeIn,
    ChallengeOut,
    ChallengePatch,
    JoinIn,
    LeaderRow,
    ParticipantOut,
    ProgressOut,
    TeamIn,
    TeamOut,
)

router = APIRouter(prefix="/savings", tags=["savings"])
StatusFilter = Literal["draft", "active", "completed", "cancelled"]


@router.get("/challenges", response_model=PageEnvelope[ChallengeOut])
async def list_challenges(
    principal: OrgUser,
    session: DbSession,
    page: PageQuery,
    status_: Annotated[StatusFilter | None, Query(alias="status")] = None,
) -> PageEnvelope[ChallengeOut]:
    tenant = await tenant_repo.get_tenant(session, principal.require_tenant())
    rows, total = await challenges.list_challenges(
        session, tenant.id, status=status_, offset=page.offset, limit=page.limit
    )
    return paginated([await challenges.to_out(session, tenant, c) for c in rows], total, page)


@router.post(
    "/challenges", response_model=Envelope[ChallengeOut], status_code=status.HTTP_201_CREATED
)
async def create_challenge(
    body: ChallengeIn, principal: OrgAdmin, session: DbSession
) -> Envelope[ChallengeOut]:
    tenant, _ = await service.org_for(session, principal.require_tenant())
    challenge = await challenges.create(session, tenant, body, actor=principal.user_id)
    return ok(await challenges.to_out(session, tenant, challenge))


@router.get("/challenges/{challenge_id}", response_model=Envelope[ChallengeOut])
async def get_challenge(
    challenge_id: uuid.UUID, principal: OrgUser, session: DbSession
) -> Envelope[ChallengeOut]:
    tenant = await tenant_repo.get_tenant(session, principal.require_tenant())
    challenge = await challenges.get_challenge(session, tenant.id, challenge_id)
    return ok(await challenges.to_out(session, tenant, challenge))


@router.patch("/challenges/{challenge_id}", response_model=Envelope[ChallengeOut])
async def patch_challenge(
    challenge_id: uuid.UUID, body: ChallengePatch, principal: OrgAdmin, session: DbSession
) -> Envelope[ChallengeOut]:
    tenant = await tenant_repo.get_tenant(session, principal.require_tenant())
    challenge = await challenges.update(
        session, tenant, challenge_id, body, actor=principal.user_id
    )
    return ok(await challenges.to_out(session, tenant, challenge))


@router.delete("/challenges/{challenge_id}", response_model=Envelope[dict[str, Any]])
async def delete_challenge(
    challenge_id: uuid.UUID, principal: OrgAdmin, session: DbSession
) -> Envelope[dict[str, Any]]:
    tenant = await tenant_repo.get_tenant(session, principal.require_tenant())
    challenge = await challenges.delete(session, tenant, challenge_id, actor=principal.user_id)
    return ok({"id": str(challenge_id), "status": challenge.status})


@router.post(
    "/challenges/{challenge_id}/teams",
    response_model=Envelope[TeamOut],
    status_code=status.HTTP_201_CREATED,
)
async def add_team(
    challenge_id: uuid.UUID, body: TeamIn, principal: OrgAdmin, session: DbSession
) -> Envelope[TeamOut]:
    tenant = await tenant_repo.get_tenant(session, principal.require_tenant())
    team = await challenges.add_team(
        session, tenant, challenge_id, body.name, actor=principal.user_id
    )
    return ok(TeamOut(id=team.id, name=team.name))


@router.get("/challenges/{challenge_id}/teams", response_model=Envelope[list[TeamOut]])
async def team_leaderboard(
    challenge_id: uuid.UUID, principal: OrgUser, session: DbSession
) -> Envelope[list[TeamOut]]:
    tenant_id = principal.require_tenant()
    challenge = await challenges.get_challenge(session, tenant_id, challenge_id)
    return ok(await progress.team_board(session, tenant_id, challenge))


@router.post("/challenges/{challenge_id}/join", response_model=Envelope[ParticipantOut])
async def join(
    challenge_id: uuid.UUID, body: JoinIn, principal: OrgUser, session: DbSession
) -> Envelope[ParticipantOut]:
    tenant = await tenant_repo.get_tenant(session, principal.require_tenant())
    admin = is_admin(principal) and body.member_id is not None
    if admin:
        assert body.member_id is not None
        member = await service.get_member_or_404(session, tenant.id, body.member_id)
    else:
        member = await challenges.member_for_user(session, tenant.id, principal.require_user())
    p = await challenges.join(session, tenant, challenge_id, member, body, by_admin=admin)
    return ok(
        ParticipantOut(
            challenge_id=p.challenge_id,
            member_id=member.id,
            user_id=p.user_id,
            team_id=p.team_id,
            status=p.status,
            score=p.score,
            total_contributed=p.total,
            completed=p.completed,
            rank=p.rank,
            joined_at=p.joined_at,
        )
    )


@router.get("/challenges/{challenge_id}/leaderboard", response_model=PageEnvelope[LeaderRow])
async def leaderboard(
    challenge_id: uuid.UUID,
    principal: OrgUser,
    session: DbSession,
    page: PageQuery,
    team_id: uuid.UUID | None = None,
) -> PageEnvelope[LeaderRow]:
    tenant_id = principal.require_tenant()
    challenge = await challenges.get_challenge(session, tenant_id, challenge_id)
    rows, total = await progress.leaderboard(
        session, tenant_id, challenge, team_id=team_id, offset=page.offset, limit=page.limit
    )
    return paginated(rows, total, page)


@router.get("/members/{member_id}/achievements", response_model=Envelope[list[AchievementOut]])
async def achievements(
    member_id: uuid.UUID, principal: OrgUser, session: DbSession
) -> Envelope[list[AchievementOut]]:
    tenant_id = principal.require_tenant()
    member = await service.get_member_or_404(session, tenant_id, member_id)
    require_self_or_admin(principal, member.user_id)
    rows = await badges.of_user(session, tenant_id, member.user_id)
    return ok(
        [
            AchievementOut(
                code=b.code,
                name=b.name,
                description=b.description,
                rarity=b.rarity,
                earned_at=ub.earned_at,
            )
            for b, ub in rows
        ]
    )


@router.get("/members/{member_id}/progress", response_model=Envelope[list[ProgressOut]])
async def member_progress(
    member_id: uuid.UUID, principal: OrgUser, session: DbSession
) -> Envelope[list[ProgressOut]]:
    tenant = await tenant_repo.get_tenant(session, principal.require_tenant())
    member = await service.get_member_or_404(session, tenant.id, member_id)
    require_self_or_admin(principal, member.user_id)
    return ok([ProgressOut(**row) for row in await progress.progress_of(session, tenant, member)])


@router.get("/analytics/overview", response_model=Envelope[dict[str, Any]])
async def overview(principal: OrgAdmin, session: DbSession) -> Envelope[dict[str, Any]]:
    tenant = await tenant_repo.get_tenant(session, principal.require_tenant())
    today = clock.utcnow().astimezone(ZoneInfo(tenant.timezone or "UTC")).date()
    return ok(await analytics.overview(session, tenant, today))


@router.get("/analytics/savings-trends", response_model=Envelope[list[dict[str, Any]]])
async def savings_trends(
    principal: OrgAdmin,
    session: DbSession,
    period: Annotated[Literal["week", "month"], Query()] = "week",
    days: Annotated[int, Query(ge=7, le=730)] = 180,
) -> Envelope[list[dict[str, Any]]]:
    tenant = await tenant_repo.get_tenant(session, principal.require_tenant())
    today = clock.utcnow().astimezone(ZoneInfo(tenant.timezone or "UTC")).date()
    rows = await analytics.stats(session, tenant.id, today - timedelta(days=days), today)
    return ok(analytics.trends(rows, period))


@router.get("/analytics/engagement", response_model=Envelope[dict[str, Any]])
async def engagement(principal: OrgAdmin, session: DbSession) -> Envelope[dict[str, Any]]:
    tenant = await tenant_repo.get_tenant(session, principal.require_tenant())
    today = clock.utcnow().astimezone(ZoneInfo(tenant.timezone or "UTC")).date()
    rows = await analytics.stats(session, tenant.id, today - timedelta(days=30), today)
    latest = rows[-1] if rows else None
    return ok({"as_of": latest.day if latest else None, **(latest.engagement if latest else {})})
