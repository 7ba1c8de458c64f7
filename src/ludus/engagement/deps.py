"""Route dependencies: the caller as a user of a tenant, and the product the call is for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from ludus.core.auth.principal import CurrentPrincipal
from ludus.core.http.session import DbSession
from ludus.core.tenancy.models import Tenant


@dataclass(frozen=True)
class Caller:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    product: str


async def get_caller(
    principal: CurrentPrincipal,
    session: DbSession,
    product: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{1,31}$")] = None,
) -> Caller:
    tenant_id = principal.require_tenant()
    user_id = principal.require_user()
    if product is None:
        tenant = await session.get(Tenant, tenant_id)
        product = tenant.products[0] if tenant and tenant.products else "default"
    return Caller(tenant_id, user_id, str(principal.role or ""), product)


CurrentCaller = Annotated[Caller, Depends(get_caller)]
