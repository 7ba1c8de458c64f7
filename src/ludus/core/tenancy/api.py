"""Tenant routes: public theme, partner config (tenant admins), tenant admin (system admins)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from ludus.core.auth.principal import CurrentPrincipal, SystemAdmin, TenantAdmin, tenant_of
from ludus.core.http.session import DbSession
from ludus.core.kit.db import set_system_scope
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import Envelope, PageEnvelope, ok
from ludus.core.tenancy import repository, service
from ludus.core.tenancy.models import TenantStatus
from ludus.core.tenancy.schemas import (
    PublicTheme,
    TenantConfigUpdate,
    TenantCreate,
    TenantOut,
)

router = APIRouter(tags=["tenants"])


@router.get("/tenants/{slug}/theme", response_model=Envelope[PublicTheme])
async def public_theme(slug: str, session: DbSession) -> Envelope[PublicTheme]:
    tenant = await service.get_by_slug_or_404(session, slug.lower())
    repository.ensure_active(tenant)
    return ok(PublicTheme.model_validate(tenant))


@router.get("/tenant", response_model=Envelope[TenantOut])
async def my_tenant(principal: CurrentPrincipal, session: DbSession) -> Envelope[TenantOut]:
    return ok(TenantOut.model_validate(await tenant_of(principal, session)))


@router.get("/partner/config", response_model=Envelope[TenantOut])
async def get_partner_config(principal: TenantAdmin, session: DbSession) -> Envelope[TenantOut]:
    return ok(TenantOut.model_validate(await tenant_of(principal, session)))


@router.put("/partner/config", response_model=Envelope[TenantOut])
async def put_partner_config(
    body: TenantConfigUpdate, principal: TenantAdmin, session: DbSession
) -> Envelope[TenantOut]:
    tenant = await tenant_of(principal, session)
    tenant = await service.update_config(
        session, tenant, body, actor_user_id=principal.require_user()
    )
    return ok(TenantOut.model_validate(tenant))


@router.post(
    "/admin/tenants", response_model=Envelope[TenantOut], status_code=status.HTTP_201_CREATED
)
async def create_tenant(
    body: TenantCreate, principal: SystemAdmin, session: DbSession
) -> Envelope[TenantOut]:
    await set_system_scope(session)
    tenant = await service.create_tenant(
        session, body, actor_user_id=principal.user_id, actor=f"user:{principal.user_id}"
    )
    return ok(TenantOut.model_validate(tenant))


@router.get("/admin/tenants", response_model=PageEnvelope[TenantOut])
async def list_tenants(
    principal: SystemAdmin, session: DbSession, page: PageQuery
) -> PageEnvelope[TenantOut]:
    rows, total = await repository.list_tenants(session, offset=page.offset, limit=page.limit)
    return paginated([TenantOut.model_validate(t) for t in rows], total, page)


async def _set_status(
    tenant_id: uuid.UUID, new: TenantStatus, principal: SystemAdmin, session: DbSession
) -> Envelope[TenantOut]:
    await set_system_scope(session)
    tenant = await repository.get_tenant(session, tenant_id)
    tenant = await service.set_status(
        session, tenant, new, actor_user_id=principal.user_id, actor=f"user:{principal.user_id}"
    )
    return ok(TenantOut.model_validate(tenant))


@router.post("/admin/tenants/{tenant_id}/suspend", response_model=Envelope[TenantOut])
async def suspend_tenant(
    tenant_id: uuid.UUID, principal: SystemAdmin, session: DbSession
) -> Envelope[TenantOut]:
    return await _set_status(tenant_id, TenantStatus.suspended, principal, session)


@router.post("/admin/tenants/{tenant_id}/activate", response_model=Envelope[TenantOut])
async def activate_tenant(
    tenant_id: uuid.UUID, principal: SystemAdmin, session: DbSession
) -> Envelope[TenantOut]:
    return await _set_status(tenant_id, TenantStatus.active, principal, session)
