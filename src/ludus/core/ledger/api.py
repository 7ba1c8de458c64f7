"""Ledger read API for tenant admins: balances, statements, supply."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from ludus.core.auth.principal import TenantAdmin
from ludus.core.http.session import DbSession
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import Envelope, PageEnvelope, ok
from ludus.core.ledger import service
from ludus.core.ledger.schemas import Balance, StatementLine, Supply

router = APIRouter(prefix="/ledger", tags=["ledger"])


@router.get("/accounts/{account_id}/balance", response_model=Envelope[Balance])
async def account_balance(
    account_id: uuid.UUID,
    principal: TenantAdmin,
    session: DbSession,
    as_of: Annotated[datetime | None, Query(description="ISO 8601 time in the past")] = None,
) -> Envelope[Balance]:
    balance = await service.get_balance(
        session, tenant_id=principal.require_tenant(), account_id=account_id, as_of=as_of
    )
    return ok(balance)


@router.get("/accounts/{account_id}/statement", response_model=PageEnvelope[StatementLine])
async def account_statement(
    account_id: uuid.UUID, principal: TenantAdmin, session: DbSession, page: PageQuery
) -> PageEnvelope[StatementLine]:
    lines, total = await service.statement(
        session,
        tenant_id=principal.require_tenant(),
        account_id=account_id,
        offset=page.offset,
        limit=page.limit,
    )
    return paginated(lines, total, page)


@router.get("/supply/{asset}", response_model=Envelope[Supply])
async def asset_supply(
    asset: Annotated[str, Path(pattern=r"^[A-Z][A-Z0-9_]{1,15}$")],
    principal: TenantAdmin,
    session: DbSession,
) -> Envelope[Supply]:
    total = await service.total_supply(session, tenant_id=principal.require_tenant(), asset=asset)
    return ok(Supply(asset=asset, total_supply=total))
