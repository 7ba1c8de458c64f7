"""Rewards (/rewards: coins, badges, streaks, achievements) and social (/social: friends,
classrooms, referrals) routes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import ValidationError
from sqlalchemy import select

from ludus.core.audit import service as audit
from ludus.core.auth.models import Role
from ludus.core.auth.principal import Principal, require_roles
from ludus.core.http.session import DbSession
from ludus.core.kit.errors import NotFound, ValidationFailed
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import Envelope, PageEnvelope, ok
from ludus.core.tenancy.models import Tenant
from ludus.engagement import badges, coins, levels, referrals, service, social
from ludus.engagement.deps import CurrentCaller
from ludus.engagement.models import ReferralCode
from ludus.engagement.rules import load_rules, rules_from_config
from ludus.engagement.schemas import (
    AchievementsOut,
    BadgeDefinitionOut,
    BadgeIn,
    BadgeOut,
    BadgesOut,
    BalanceOut,
    ClassroomIn,
    ClassroomOut,
    ClassroomsOut,
    CoinLine,
    FriendActionIn,
    FriendOut,
    FriendRequestIn,
    FriendshipOut,
    FriendsOut,
    InsuranceOut,
    JoinCodeIn,
    ReferralClaimIn,
    ReferralCodeOut,
    ReferralOut,
    ShieldOut,
    StreakOut,
    TeamAssignIn,
    TeamIn,
    TeamOut,
)

rewards_router = APIRouter(prefix="/rewards", tags=["rewards"])
social_router = APIRouter(prefix="/social", tags=["social"])
Admin = Annotated[Principal, Depends(require_roles(Role.tenant_admin))]
Teacher = Annotated[Principal, Depends(require_roles(Role.teacher, Role.tenant_admin))]


@rewards_router.get("/admin/rules", response_model=Envelope[dict[str, Any]])
async def get_rules(
    caller: CurrentCaller, principal: Admin, session: DbSession
) -> Envelope[dict[str, Any]]:
    """The effective rules for `?product=` (defaults merged with the tenant's settings)."""
    rules = await load_rules(session, caller.tenant_id, caller.product)
    return ok(rules.model_dump(mode="json"))


@rewards_router.put("/admin/rules", response_model=Envelope[dict[str, Any]])
async def put_rules(
    body: dict[str, Any], caller: CurrentCaller, principal: Admin, session: DbSession
) -> Envelope[dict[str, Any]]:
    """Replace the tenant's engagement settings for `?product=` (validated first)."""
    try:
        merged = rules_from_config({"engagement": {caller.product: body}}, caller.product)
    except ValidationError as exc:
        raise ValidationFailed(details={"errors": exc.errors(include_url=False)}) from exc
    tenant = await session.get(Tenant, caller.tenant_id, with_for_update=True)
    if tenant is None:
        raise NotFound("Tenant not found.")
    before = tenant.config.get("engagement", {})
    tenant.config = {**tenant.config, "engagement": {**before, caller.product: body}}
    await session.flush()
    await audit.record(
        session,
        action="engagement.rules_updated",
        tenant_id=tenant.id,
        actor_user_id=caller.user_id,
        target_type="tenant",
        target_id=tenant.id,
        before={"engagement": before},
        after={"engagement": tenant.config["engagement"]},
    )
    session.info.pop("engagement_rules", None)
    return ok(merged.model_dump(mode="json"))


@rewards_router.get("/balance", response_model=Envelope[BalanceOut])
async def balance(caller: CurrentCaller, session: DbSession) -> Envelope[BalanceOut]:
    rules = await load_rules(session, caller.tenant_id, caller.product)
    row = await service.profile(session, caller.tenant_id, caller.user_id, caller.product)
    tier = levels.tier_for(row.lifetime_xp, rules.tiers).current
    amount = await coins.balance(session, caller.tenant_id, caller.user_id, rules.coins.asset)
    return ok(BalanceOut(coins=amount, tier=tier.name, tier_level=tier.tier))


@rewards_router.get("/history", response_model=PageEnvelope[CoinLine])
async def history(
    caller: CurrentCaller, session: DbSession, page: PageQuery
) -> PageEnvelope[CoinLine]:
    rules = await load_rules(session, caller.tenant_id, caller.product)
    rows, total = await coins.history(
        session,
        caller.tenant_id,
        caller.user_id,
        asset=rules.coins.asset,
        offset=page.offset,
        limit=page.limit,
    )
    return paginated([CoinLine.model_validate(r) for r in rows], total, page)


@rewards_router.get("/badges", response_model=Envelope[BadgesOut])
async def my_badges(caller: CurrentCaller, session: DbSession) -> Envelope[BadgesOut]:
    rows = await badges.earned(session, caller.tenant_id, caller.user_id)
    return ok(
        BadgesOut(
            badges=[
                BadgeOut(
                    badge_id=b.code,
                    name=b.name,
                    rarity=b.rarity,
                    earned_at=ub.earned_at,
                    icon_url=b.icon_url,
                    seq=ub.seq,
                )
                for ub, b in rows
            ]
        )
    )


@rewards_router.get("/badges/definitions", response_model=Envelope[list[BadgeDefinitionOut]])
async def badge_definitions(
    caller: CurrentCaller, session: DbSession
) -> Envelope[list[BadgeDefinitionOut]]:
    rows = await badges.visible_badges(session, caller.tenant_id, caller.product)
    return ok([BadgeDefinitionOut.model_validate(b) for b in rows if not b.hidden])


@rewards_router.post(
    "/badges/definitions", response_model=Envelope[BadgeDefinitionOut], status_code=201
)
async def create_badge(
    body: BadgeIn, principal: Admin, session: DbSession
) -> Envelope[BadgeDefinitionOut]:
    badge = await badges.create_badge(
        session, tenant_id=principal.require_tenant(), data=body.model_dump()
    )
    return ok(BadgeDefinitionOut.model_validate(badge))


@rewards_router.get("/streak", response_model=Envelope[StreakOut])
async def streak(caller: CurrentCaller, session: DbSession) -> Envelope[StreakOut]:
    view = await service.get_streak(session, caller.tenant_id, caller.user_id, caller.product)
    data = StreakOut.model_validate(view, from_attributes=True)
    return ok(data)


@rewards_router.post("/streak-shield/activate", response_model=Envelope[ShieldOut])
async def shield(caller: CurrentCaller, session: DbSession) -> Envelope[ShieldOut]:
    result = await service.activate_shield(
        session, tenant_id=caller.tenant_id, user_id=caller.user_id, product=caller.product
    )
    return ok(ShieldOut.model_validate(result))


@rewards_router.post("/streak-insurance/purchase", response_model=Envelope[InsuranceOut])
async def insurance(caller: CurrentCaller, session: DbSession) -> Envelope[InsuranceOut]:
    result = await service.purchase_insurance(
        session, tenant_id=caller.tenant_id, user_id=caller.user_id, product=caller.product
    )
    return ok(InsuranceOut.model_validate(result))


@rewards_router.get("/achievements", response_model=Envelope[AchievementsOut])
async def achievements(caller: CurrentCaller, session: DbSession) -> Envelope[AchievementsOut]:
    rules = await load_rules(session, caller.tenant_id, caller.product)
    row = await service.profile(session, caller.tenant_id, caller.user_id, caller.product)
    return ok(AchievementsOut.model_validate(service.achievements(row, rules)))


# --- social --------------------------------------------------------------------------


@social_router.get("/friends", response_model=Envelope[FriendsOut])
async def friends(caller: CurrentCaller, session: DbSession) -> Envelope[FriendsOut]:
    rows = await social.friendships(session, caller.tenant_id, caller.user_id, "accepted")
    return ok(FriendsOut(friends=[FriendOut.model_validate(r) for r in rows]))


@social_router.get("/friends/requests", response_model=Envelope[FriendsOut])
async def friend_requests(caller: CurrentCaller, session: DbSession) -> Envelope[FriendsOut]:
    rows = await social.friendships(session, caller.tenant_id, caller.user_id, "pending")
    return ok(FriendsOut(friends=[FriendOut.model_validate(r) for r in rows]))


@social_router.post("/friends/request", response_model=Envelope[FriendshipOut], status_code=201)
async def friend_request(
    body: FriendRequestIn, caller: CurrentCaller, session: DbSession
) -> Envelope[FriendshipOut]:
    target = body.user_id
    if target is None:
        target = await session.scalar(
            select(ReferralCode.user_id).where(
                ReferralCode.tenant_id == caller.tenant_id,
                ReferralCode.code == (body.referral_code or "").upper(),
            )
        )
        if target is None:
            raise NotFound("No user has this referral code.")
    row = await social.request_friend(
        session, tenant_id=caller.tenant_id, user_id=caller.user_id, target_id=target
    )
    return ok(FriendshipOut(friendship_id=row.id, status=row.status))


@social_router.put("/friends/{friendship_id}", status_code=204, response_class=Response)
async def friend_action(
    friendship_id: uuid.UUID, body: FriendActionIn, caller: CurrentCaller, session: DbSession
) -> Response:
    await social.respond(
        session,
        tenant_id=caller.tenant_id,
        user_id=caller.user_id,
        friendship_id=friendship_id,
        action=body.action,
    )
    return Response(status_code=204)


@social_router.get("/classrooms", response_model=Envelope[ClassroomsOut])
async def classrooms(caller: CurrentCaller, session: DbSession) -> Envelope[ClassroomsOut]:
    rows = await social.my_classrooms(session, caller.tenant_id, caller.user_id)
    return ok(
        ClassroomsOut(
            classrooms=[
                ClassroomOut(
                    id=c.id,
                    name=c.name,
                    teacher_id=c.teacher_id,
                    member_count=n,
                    status=c.status,
                    join_code=c.join_code if c.teacher_id == caller.user_id else None,
                )
                for c, n in rows
            ]
        )
    )


@social_router.post("/classrooms", response_model=Envelope[ClassroomOut], status_code=201)
async def create_classroom(
    body: ClassroomIn, principal: Teacher, session: DbSession
) -> Envelope[ClassroomOut]:
    row = await social.create_classroom(
        session,
        tenant_id=principal.require_tenant(),
        teacher_id=principal.require_user(),
        name=body.name,
        config=body.config,
    )
    return ok(
        ClassroomOut(
            id=row.id,
            name=row.name,
            teacher_id=row.teacher_id,
            join_code=row.join_code,
            status=row.status,
        )
    )


@social_router.post("/classrooms/join", response_model=Envelope[ClassroomOut])
async def join_classroom(
    body: JoinCodeIn, caller: CurrentCaller, session: DbSession
) -> Envelope[ClassroomOut]:
    row = await social.join_classroom(
        session, tenant_id=caller.tenant_id, user_id=caller.user_id, join_code=body.join_code
    )
    return ok(ClassroomOut(id=row.id, name=row.name, teacher_id=row.teacher_id, status=row.status))


@social_router.post(
    "/classrooms/{classroom_id}/teams", response_model=Envelope[TeamOut], status_code=201
)
async def create_team(
    classroom_id: uuid.UUID, body: TeamIn, principal: Teacher, session: DbSession
) -> Envelope[TeamOut]:
    team = await social.create_team(
        session,
        tenant_id=principal.require_tenant(),
        classroom_id=classroom_id,
        teacher_id=principal.require_user(),
        name=body.name,
    )
    return ok(TeamOut.model_validate(team))


@social_router.put(
    "/classrooms/{classroom_id}/members/{user_id}", status_code=204, response_class=Response
)
async def assign_team(
    classroom_id: uuid.UUID,
    user_id: uuid.UUID,
    body: TeamAssignIn,
    principal: Teacher,
    session: DbSession,
) -> Response:
    await social.assign_team(
        session,
        tenant_id=principal.require_tenant(),
        classroom_id=classroom_id,
        teacher_id=principal.require_user(),
        user_id=user_id,
        team_id=body.team_id,
    )
    return Response(status_code=204)


@social_router.get("/referral-code", response_model=Envelope[ReferralCodeOut])
async def referral_code(caller: CurrentCaller, session: DbSession) -> Envelope[ReferralCodeOut]:
    data = await referrals.stats(session, caller.tenant_id, caller.user_id, caller.product)
    return ok(ReferralCodeOut.model_validate(data))


@social_router.post("/referrals/claim", response_model=Envelope[ReferralOut], status_code=201)
async def claim_referral(
    body: ReferralClaimIn, caller: CurrentCaller, session: DbSession
) -> Envelope[ReferralOut]:
    row = await referrals.attribute(
        session,
        tenant_id=caller.tenant_id,
        referee_id=caller.user_id,
        code=body.code,
        product=caller.product,
        device_id=body.device_id,
    )
    return ok(ReferralOut.model_validate(row))
