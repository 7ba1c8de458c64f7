"""Tenant API keys: tenant admins create (shown once), list and revoke them."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from ludus.core.auth import apikeys
from ludus.core.auth.principal import TenantAdmin
from ludus.core.auth.schemas import ApiKeyCreatedOut, ApiKeyCreateIn, ApiKeyOut
from ludus.core.http.session import DbSession
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import Envelope, PageEnvelope, ok

router = APIRouter(tags=["auth"])


@router.post("/auth/api-keys", status_code=201, response_model=Envelope[ApiKeyCreatedOut])
async def create_api_key(
    body: ApiKeyCreateIn, principal: TenantAdmin, session: DbSession
) -> Envelope[ApiKeyCreatedOut]:
    # Keys are made by people, not by other keys.
    row, key = await apikeys.create_key(
        session, tenant_id=principal.require_tenant(), actor_id=principal.require_user(), data=body
    )
    out = ApiKeyOut.model_validate(row).model_dump()
    return ok(ApiKeyCreatedOut(**out, key=key))


@router.get("/auth/api-keys", response_model=PageEnvelope[ApiKeyOut])
async def list_api_keys(
    principal: TenantAdmin, session: DbSession, page: PageQuery
) -> PageEnvelope[ApiKeyOut]:
    rows = await apikeys.list_keys(session, principal.require_tenant())
    window = rows[page.offset : page.offset + page.limit]
    return paginated([ApiKeyOut.model_validate(r) for r in window], len(rows), page)


@router.delete("/auth/api-keys/{key_id}", status_code=204, response_class=Response)
async def revoke_api_key(key_id: uuid.UUID, principal: TenantAdmin, session: DbSession) -> Response:
    await apikeys.revoke_key(
        session, tenant_id=principal.require_tenant(), actor_id=principal.user_id, key_id=key_id
    )
    return Response(status_code=204)
