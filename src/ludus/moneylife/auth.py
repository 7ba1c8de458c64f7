"""Who may do what in MoneyLife."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ludus.core.auth.models import Role
from ludus.core.auth.principal import CurrentPrincipal, Principal, require_roles, require_scope
from ludus.moneylife.gameplay import Player


async def current_player(request: Request, principal: CurrentPrincipal) -> Player:
    """A signed-in user of a tenant; the device comes from the token or X-Device-Id."""
    device = principal.device_id or request.headers.get("x-device-id") or None
    return Player(
        tenant_id=principal.require_tenant(),
        user_id=principal.require_user(),
        device_id=device[:128] if device else None,
    )


CurrentPlayer = Annotated[Player, Depends(current_player)]
GameAdmin = Annotated[Principal, Depends(require_roles(Role.tenant_admin))]
Teacher = Annotated[Principal, Depends(require_roles(Role.teacher, Role.tenant_admin))]


async def partner_reader(
    principal: Annotated[Principal, Depends(require_scope("analytics:read", "moneylife:read"))],
) -> Principal:
    """Partner analytics: tenant admins, or the tenant's API keys with an analytics scope."""
    principal.require_tenant()
    if principal.api_key_id is not None or principal.is_system_admin:
        return principal
    if principal.role in (Role.tenant_admin, Role.staff):
        return principal
    from ludus.core.kit.errors import Forbidden

    raise Forbidden(details={"required_roles": ["tenant_admin", "staff"]})


PartnerReader = Annotated[Principal, Depends(partner_reader)]
