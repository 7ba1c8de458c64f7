"""Who may use PaYa: signed-in members of a PaYa tenant; admins are tenant admins or staff."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from ludus.core.auth.models import Role
from ludus.core.auth.principal import CurrentPrincipal, Principal, require_roles
from ludus.core.http.session import DbSession
from ludus.core.kit.errors import error_code
from ludus.core.tenancy.deps import RequestTenant
from ludus.core.tenancy.models import Tenant
from ludus.paya import accounts

PayaNotEnabled = error_code(403, "PAYA_NOT_ENABLED", "PaYa is not enabled for this tenant.")


async def paya_member(principal: CurrentPrincipal, session: DbSession) -> Principal:
    principal.require_user()
    tenant_id = principal.require_tenant()
    if not await accounts.enabled(session, tenant_id):
        raise PayaNotEnabled()
    return principal


async def paya_admin(
    principal: Annotated[Principal, Depends(require_roles(Role.tenant_admin, Role.staff))],
    session: DbSession,
) -> Principal:
    tenant_id = principal.require_tenant()
    if not await accounts.enabled(session, tenant_id):
        raise PayaNotEnabled()
    return principal


async def paya_public_tenant(tenant: RequestTenant, session: DbSession) -> Tenant:
    """The tenant named by X-Tenant (or subdomain), for public pages: feed, transparency."""
    if not await accounts.enabled(session, tenant.id):
        raise PayaNotEnabled()
    return tenant


PayaMember = Annotated[Principal, Depends(paya_member)]
PayaAdmin = Annotated[Principal, Depends(paya_admin)]
PublicTenant = Annotated[Tenant, Depends(paya_public_tenant)]
