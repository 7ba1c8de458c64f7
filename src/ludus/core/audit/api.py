"""Audit log API: tenant admins see their tenant; system admins see any or all."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from ludus.core.audit import service
from ludus.core.auth.models import Role
from ludus.core.auth.principal import Principal, require_roles
from ludus.core.http.session import DbSession
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import PageEnvelope, Schema

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditEventOut(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    actor: str
    actor_user_id: uuid.UUID | None
    action: str
    target_type: str | None
    target_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    ip: str | None
    created_at: datetime


@router.get("/events", response_model=PageEnvelope[AuditEventOut])
async def list_audit_events(
    session: DbSession,
    page: PageQuery,
    principal: Annotated[Principal, Depends(require_roles(Role.tenant_admin))],
    action: Annotated[str | None, Query(max_length=100)] = None,
    tenant_id: Annotated[uuid.UUID | None, Query()] = None,
) -> PageEnvelope[AuditEventOut]:
    scope = tenant_id if principal.is_system_admin else principal.require_tenant()
    rows, total = await service.list_events(
        session, tenant_id=scope, action=action, offset=page.offset, limit=page.limit
    )
    return paginated([AuditEventOut.model_validate(r) for r in rows], total, page)
