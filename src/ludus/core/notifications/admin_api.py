"""Admin routes: the message log (what the sandbox provider "sent") and templates.

Tenant admins see and edit their own tenant; system admins may name any tenant with
`tenant_id`, and without it see every tenant's messages and edit the platform templates.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ludus.core.auth.models import Role
from ludus.core.auth.principal import Principal, require_roles
from ludus.core.http.session import DbSession
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import Envelope, PageEnvelope, ok
from ludus.core.notifications import manage, repository
from ludus.core.notifications.models import Channel, MessageStatus
from ludus.core.notifications.schemas import MessageOut, TemplateIn, TemplateOut

router = APIRouter(prefix="/admin/notifications", tags=["notifications-admin"])
Admin = Annotated[Principal, Depends(require_roles(Role.tenant_admin))]


def _scope(principal: Principal, tenant_id: uuid.UUID | None) -> uuid.UUID | None:
    return tenant_id if principal.is_system_admin else principal.require_tenant()


@router.get("/messages", response_model=PageEnvelope[MessageOut])
async def list_messages(
    principal: Admin,
    session: DbSession,
    page: PageQuery,
    channel: Channel | None = None,
    recipient: Annotated[str | None, Query(max_length=320)] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    status: MessageStatus | None = None,
    user_id: uuid.UUID | None = None,
    tenant_id: uuid.UUID | None = None,
) -> PageEnvelope[MessageOut]:
    rows, total = await repository.list_messages(
        session,
        tenant_id=_scope(principal, tenant_id),
        filters={
            "channel": channel,
            "recipient": recipient,
            "kind": kind,
            "status": status,
            "user_id": user_id,
        },
        offset=page.offset,
        limit=page.limit,
    )
    return paginated([MessageOut.model_validate(r) for r in rows], total, page)


@router.get("/templates", response_model=PageEnvelope[TemplateOut])
async def list_templates(
    principal: Admin,
    session: DbSession,
    page: PageQuery,
    key: Annotated[str | None, Query(max_length=100)] = None,
    tenant_id: uuid.UUID | None = None,
) -> PageEnvelope[TemplateOut]:
    rows, total = await repository.list_templates(
        session,
        tenant_id=_scope(principal, tenant_id),
        key=key,
        offset=page.offset,
        limit=page.limit,
    )
    return paginated([TemplateOut.model_validate(r) for r in rows], total, page)


@router.put("/templates", response_model=Envelope[TemplateOut])
async def put_template(
    body: TemplateIn,
    principal: Admin,
    session: DbSession,
    tenant_id: uuid.UUID | None = None,
) -> Envelope[TemplateOut]:
    """Create or replace the template for (key, channel, locale); idempotent by that key."""
    row = await manage.upsert_template(
        session,
        tenant_id=_scope(principal, tenant_id),
        key=body.key,
        channel=body.channel,
        locale=body.locale,
        subject=body.subject,
        body=body.body,
    )
    return ok(TemplateOut.model_validate(row))


@router.delete("/templates/{template_id}", response_model=Envelope[dict[str, bool]])
async def delete_template(
    template_id: uuid.UUID,
    principal: Admin,
    session: DbSession,
    tenant_id: uuid.UUID | None = None,
) -> Envelope[dict[str, bool]]:
    await manage.delete_template(
        session, tenant_id=_scope(principal, tenant_id), template_id=template_id
    )
    return ok({"deleted": True})
