"""Tenant queries. Tenants are a global registry (no RLS); everything below them is scoped."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.auth.models import AuthSession
from ludus.core.kit.errors import NotFound, TenantSuspended
from ludus.core.tenancy.models import Tenant, TenantStatus


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("Tenant not found.")
    return tenant


async def get_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    result = await session.execute(select(Tenant).where(Tenant.slug == slug.lower()))
    return result.scalar_one_or_none()


async def list_tenants(
    session: AsyncSession, *, offset: int = 0, limit: int = 100
) -> tuple[Sequence[Tenant], int]:
    total = await session.scalar(select(func.count()).select_from(Tenant)) or 0
    rows = await session.execute(select(Tenant).order_by(Tenant.slug).offset(offset).limit(limit))
    return rows.scalars().all(), total


def ensure_active(tenant: Tenant) -> None:
    if tenant.status != TenantStatus.active:
        raise TenantSuspended(details={"tenant": tenant.slug})


async def session_is_live(session: AsyncSession, sid: uuid.UUID, user_id: uuid.UUID) -> bool:
    row = await session.execute(
        select(AuthSession.revoked_at).where(AuthSession.id == sid, AuthSession.user_id == user_id)
    )
    found = row.first()
    return found is not None and found[0] is None


# Built once: this runs on every authenticated request, and building the expression costs
# more CPU than executing the cached statement.
_STATUS_AND_SESSION = select(
    Tenant.status,
    select(AuthSession.id)
    .where(
        AuthSession.id == bindparam("sid"),
        AuthSession.user_id == bindparam("user_id"),
        AuthSession.revoked_at.is_(None),
    )
    .exists(),
).where(Tenant.id == bindparam("tenant_id"))


async def tenant_status_and_session(
    session: AsyncSession, tenant_id: uuid.UUID, sid: uuid.UUID | None, user_id: uuid.UUID
) -> tuple[str, bool] | None:
    """The tenant's status and whether session `sid` of `user_id` is live, in one query."""
    params = {"tenant_id": tenant_id, "sid": sid, "user_id": user_id}
    row = (await session.execute(_STATUS_AND_SESSION, params)).first()
    return None if row is None else (str(row[0]), bool(row[1]))
