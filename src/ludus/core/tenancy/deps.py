"""Resolve the tenant of an unauthenticated request: `X-Tenant` header or subdomain."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ludus.core.http.session import DbSession
from ludus.core.kit.db import set_tenant
from ludus.core.kit.errors import TenantRequired
from ludus.core.kit.settings import get_settings
from ludus.core.tenancy import repository
from ludus.core.tenancy.models import Tenant
from ludus.core.tenancy.service import get_by_slug_or_404


def tenant_slug_from_request(request: Request) -> str | None:
    slug = request.headers.get("x-tenant")
    if slug:
        return slug.strip().lower()
    host = (request.headers.get("host") or "").split(":")[0]
    base = (get_settings().public_base_url.split("//")[-1]).split(":")[0]
    if host.endswith("." + base) and host != base:
        return host[: -len(base) - 1].split(".")[-1]
    return None


async def get_request_tenant(request: Request, session: DbSession) -> Tenant:
    """The tenant named by the request; the DB session is scoped to it."""
    slug = tenant_slug_from_request(request)
    if not slug:
        raise TenantRequired()
    tenant = await get_by_slug_or_404(session, slug)
    repository.ensure_active(tenant)
    await set_tenant(session, tenant.id)
    request.state.tenant_id = str(tenant.id)
    return tenant


RequestTenant = Annotated[Tenant, Depends(get_request_tenant)]
