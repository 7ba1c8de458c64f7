"""Auth routes."""

from __future__ import annotations

from fastapi import APIRouter

from ludus.core.auth import repository
from ludus.core.auth.principal import CurrentPrincipal
from ludus.core.auth.schemas import MeOut, UserOut
from ludus.core.http.session import DbSession
from ludus.core.kit.errors import NotFound
from ludus.core.kit.schemas import Envelope, ok

router = APIRouter(tags=["auth"])


@router.get("/me", response_model=Envelope[MeOut])
async def me(principal: CurrentPrincipal, session: DbSession) -> Envelope[MeOut]:
    user = await repository.get_user(session, principal.require_user())
    if user is None:
        raise NotFound("User not found.")
    return ok(
        MeOut(
            user=UserOut.model_validate(user),
            tenant_id=principal.tenant_id,
            role=principal.role.value if principal.role else None,
        )
    )
