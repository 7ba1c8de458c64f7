"""Challenge routes under /challenges (spec 001) for every product."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from ludus.core.auth.models import Role
from ludus.core.auth.principal import Principal, require_roles
from ludus.core.http.session import DbSession
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import Envelope, InputSchema, PageEnvelope, Schema, ok
from ludus.engagement.challenges import scoring, service
from ludus.engagement.deps import CurrentCaller
from ludus.engagement.leaderboards.api import EntryOut, entries_out
from ludus.engagement.schemas import TeamIn, TeamOut

router = APIRouter(prefix="/challenges", tags=["challenges"])
Organizer = Annotated[Principal, Depends(require_roles(Role.tenant_admin, Role.teacher))]


class ChallengeIn(InputSchema):
    kind: str = Field(pattern="^(" + "|".join(scoring.KINDS) + ")$")
    product: str = Field(default="default", pattern=r"^[a-z][a-z0-9_]{1,31}$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    config: dict[str, Any]
    scoring: dict[str, Any] = Field(default_factory=dict)
    rewards: dict[str, Any] = Field(default_factory=dict)
    starts_at: datetime
    ends_at: datetime
    classroom_id: uuid.UUID | None = None
    sponsor_tenant_id: uuid.UUID | None = None
    max_participants: int | None = Field(default=None, ge=1)


class ChallengeOut(Schema):
    id: uuid.UUID
    kind: str
    product: str
    name: str
    description: str
    config: dict[str, Any]
    scoring: dict[str, Any]
    rewards: dict[str, Any]
    starts_at: datetime
    ends_at: datetime
    classroom_id: uuid.UUID | None
    sponsor_tenant_id: uuid.UUID | None
    status: str
    results: list[Any] | None


class JoinIn(InputSchema):
    team_id: uuid.UUID | None = None
    baseline: int = Field(default=0, ge=0)


class ParticipationOut(Schema):
    participation_id: uuid.UUID = Field(validation_alias="id")
    challenge_id: uuid.UUID
    status: str
    score: int
    total: int
    rank: int | None


@router.get("", response_model=PageEnvelope[ChallengeOut])
async def list_challenges(
    caller: CurrentCaller,
    session: DbSession,
    page: PageQuery,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> PageEnvelope[ChallengeOut]:
    rows, total = await service.list_challenges(
        session,
        caller.tenant_id,
        kind=kind,
        status=status,
        offset=page.offset,
        limit=page.limit,
    )
    return paginated([ChallengeOut.model_validate(r) for r in rows], total, page)


@router.post("", response_model=Envelope[ChallengeOut], status_code=201)
async def create(
    body: ChallengeIn, principal: Organizer, session: DbSession
) -> Envelope[ChallengeOut]:
    row = await service.create(
        session,
        tenant_id=principal.require_tenant(),
        created_by=principal.user_id,
        **body.model_dump(),
    )
    return ok(ChallengeOut.model_validate(row))


@router.get("/{challenge_id}", response_model=Envelope[ChallengeOut])
async def get(
    challenge_id: uuid.UUID, caller: CurrentCaller, session: DbSession
) -> Envelope[ChallengeOut]:
    return ok(
        ChallengeOut.model_validate(await service.get(session, caller.tenant_id, challenge_id))
    )


@router.post("/{challenge_id}/join", response_model=Envelope[ParticipationOut], status_code=201)
async def join(
    challenge_id: uuid.UUID, body: JoinIn, caller: CurrentCaller, session: DbSession
) -> Envelope[ParticipationOut]:
    row = await service.join(
        session,
        tenant_id=caller.tenant_id,
        challenge_id=challenge_id,
        user_id=caller.user_id,
        team_id=body.team_id,
        baseline=body.baseline,
    )
    return ok(ParticipationOut.model_validate(row))


@router.post("/{challenge_id}/leave", response_model=Envelope[ParticipationOut])
async def leave(
    challenge_id: uuid.UUID, caller: CurrentCaller, session: DbSession
) -> Envelope[ParticipationOut]:
    row = await service.leave(
        session, tenant_id=caller.tenant_id, challenge_id=challenge_id, user_id=caller.user_id
    )
    return ok(ParticipationOut.model_validate(row))


@router.post("/{challenge_id}/teams", response_model=Envelope[TeamOut], status_code=201)
async def create_team(
    challenge_id: uuid.UUID, body: TeamIn, caller: CurrentCaller, session: DbSession
) -> Envelope[TeamOut]:
    team = await service.create_team(
        session, tenant_id=caller.tenant_id, challenge_id=challenge_id, name=body.name
    )
    return ok(TeamOut.model_validate(team))


@router.get("/{challenge_id}/leaderboard", response_model=PageEnvelope[EntryOut])
async def leaderboard(
    challenge_id: uuid.UUID, caller: CurrentCaller, session: DbSession, page: PageQuery
) -> PageEnvelope[EntryOut]:
    rows, total = await service.leaderboard(
        session, caller.tenant_id, challenge_id, page.offset, page.limit
    )
    return paginated(await entries_out(session, rows), total, page)
