"""Tenant lifecycle and white-label configuration."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.audit import service as audit
from ludus.core.auth import principal_cache
from ludus.core.kit.errors import Conflict, error_code
from ludus.core.tenancy import repository
from ludus.core.tenancy.models import Tenant, TenantStatus
from ludus.core.tenancy.schemas import TenantConfigUpdate, TenantCreate

SlugTaken = error_code(409, "TENANT_SLUG_TAKEN", "A tenant with this slug already exists.")
RESERVED_SLUGS = frozenset({"api", "www", "admin", "docs", "static", "health", "metrics", "app"})
ReservedSlug = error_code(422, "TENANT_SLUG_RESERVED", "This slug is reserved.")


def _snapshot(tenant: Tenant) -> dict[str, Any]:
    return {
        "slug": tenant.slug,
        "name": tenant.name,
        "status": str(tenant.status),
        "theme": tenant.theme,
        "features": tenant.features,
        "default_locale": tenant.default_locale,
        "timezone": tenant.timezone,
    }


async def create_tenant(
    session: AsyncSession, data: TenantCreate, *, actor_user_id: uuid.UUID | None, actor: str
) -> Tenant:
    if data.slug in RESERVED_SLUGS:
        raise ReservedSlug(details={"slug": data.slug})
    if await repository.get_by_slug(session, data.slug) is not None:
        raise SlugTaken(details={"slug": data.slug})
    tenant = Tenant(
        id=uuid.uuid4(),
        slug=data.slug,
        name=data.name,
        kind=data.kind,
        status=TenantStatus.active,
        products=[p.value for p in data.products],
        theme=data.theme.model_dump(exclude_none=True),
        features=data.features.model_dump(exclude_none=True),
        config=data.config,
        default_locale=data.default_locale,
        currency=data.currency,
        timezone=data.timezone,
    )
    session.add(tenant)
    await session.flush()
    await audit.record(
        session,
        action="tenant.created",
        tenant_id=tenant.id,
        actor_user_id=actor_user_id,
        actor=actor,
        target_type="tenant",
        target_id=tenant.id,
        after=_snapshot(tenant),
    )
    return tenant


async def set_status(
    session: AsyncSession,
    tenant: Tenant,
    status: TenantStatus,
    *,
    actor_user_id: uuid.UUID | None,
    actor: str,
) -> Tenant:
    if tenant.status == status:
        return tenant
    before = _snapshot(tenant)
    tenant.status = status
    principal_cache.invalidate_on_commit(session)
    await session.flush()
    await audit.record(
        session,
        action=f"tenant.{'suspended' if status == TenantStatus.suspended else 'activated'}",
        tenant_id=tenant.id,
        actor_user_id=actor_user_id,
        actor=actor,
        target_type="tenant",
        target_id=tenant.id,
        before=before,
        after=_snapshot(tenant),
    )
    return tenant


async def update_config(
    session: AsyncSession, tenant: Tenant, data: TenantConfigUpdate, *, actor_user_id: uuid.UUID
) -> Tenant:
    before = _snapshot(tenant)
    if data.name is not None:
        tenant.name = data.name
    if data.theme is not None:
        tenant.theme = {**tenant.theme, **data.theme.model_dump(exclude_none=True)}
    if data.features is not None:
        tenant.features = {**tenant.features, **data.features.model_dump(exclude_none=True)}
    if data.default_locale is not None:
        tenant.default_locale = data.default_locale
    if data.timezone is not None:
        tenant.timezone = data.timezone
    await session.flush()
    await audit.record(
        session,
        action="tenant.config_updated",
        tenant_id=tenant.id,
        actor_user_id=actor_user_id,
        target_type="tenant",
        target_id=tenant.id,
        before=before,
        after=_snapshot(tenant),
    )
    return tenant


async def get_by_slug_or_404(session: AsyncSession, slug: str) -> Tenant:
    from ludus.core.kit.errors import NotFound

    tenant = await repository.get_by_slug(session, slug)
    if tenant is None:
        raise NotFound("Tenant not found.", details={"slug": slug})
    return tenant


__all__ = ["Conflict", "create_tenant", "get_by_slug_or_404", "set_status", "update_config"]
