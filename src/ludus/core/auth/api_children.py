"""Child accounts: parents create and manage them; children sign in with a PIN."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from ludus.core.auth import children
from ludus.core.auth.api_common import client_info, token_out
from ludus.core.auth.models import ChildProfile, Family, Role, User
from ludus.core.auth.principal import Principal, require_roles, tenant_of
from ludus.core.auth.schemas import (
    ChildCreateIn,
    ChildLoginIn,
    ChildOut,
    ChildPinIn,
    FamilyOut,
    TokenOut,
)
from ludus.core.http.session import DbSession
from ludus.core.kit.schemas import Envelope, ok
from ludus.core.tenancy.deps import RequestTenant

router = APIRouter(tags=["auth"])
Parent = Annotated[Principal, Depends(require_roles(Role.parent))]


def _child_out(profile: ChildProfile, user: User, family: Family) -> ChildOut:
    return ChildOut(
        id=user.id,
        display_name=user.display_name,
        username=profile.username,
        birthdate=user.birthdate,
        family_id=family.id,
        family_code=family.code,
    )


@router.post("/auth/children", status_code=201, response_model=Envelope[ChildOut])
async def create_child(
    body: ChildCreateIn, principal: Parent, session: DbSession
) -> Envelope[ChildOut]:
    tenant = await tenant_of(principal, session)
    profile, user, family = await children.create_child(
        session, tenant=tenant, parent_id=principal.require_user(), data=body
    )
    return ok(_child_out(profile, user, family))


@router.get("/auth/children", response_model=Envelope[FamilyOut | None])
async def list_children(principal: Parent, session: DbSession) -> Envelope[FamilyOut | None]:
    family, rows = await children.list_children(
        session, principal.require_tenant(), principal.require_user()
    )
    if family is None:
        return ok(None)
    return ok(
        FamilyOut(
            id=family.id,
            code=family.code,
            children=[_child_out(profile, user, family) for profile, user in rows],
        )
    )


@router.put("/auth/children/{child_id}/pin", status_code=204, response_class=Response)
async def set_child_pin(
    child_id: uuid.UUID, body: ChildPinIn, principal: Parent, session: DbSession
) -> Response:
    await children.set_pin(
        session,
        tenant_id=principal.require_tenant(),
        parent_id=principal.require_user(),
        child_id=child_id,
        pin=body.pin,
    )
    return Response(status_code=204)


@router.post("/auth/child/login", response_model=Envelope[TokenOut])
async def child_login(
    body: ChildLoginIn, request: Request, tenant: RequestTenant, session: DbSession
) -> Envelope[TokenOut]:
    platform = body.platform.value if body.platform else None
    signed = await children.pin_login(
        session, tenant, body, client_info(request, body.device_id, platform)
    )
    return ok(token_out(signed))
