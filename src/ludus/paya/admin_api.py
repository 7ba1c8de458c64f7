"""PaYa admin routes (tenant admins and staff); every action is audited."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response

from ludus.core.http.session import DbSession
from ludus.core.kit.db import get_database
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import Envelope, PageEnvelope, ok
from ludus.paya import admin, reserve, rewards
from ludus.paya import repository as repo
from ludus.paya.api import idempotency_key, my_profile, payment_out
from ludus.paya.auth import PayaAdmin
from ludus.paya.schemas import (
    AccountAdminOut,
    AdjustIn,
    DistributionOut,
    FlagOut,
    IneligibleIn,
    MovementOut,
    PaymentOut,
    ReasonIn,
    RevenueIn,
    RevenueOut,
    SnapshotOut,
)

router = APIRouter(prefix="/paya/admin", tags=["paya admin"])


async def _account_out(session: DbSession, tenant_id: uuid.UUID, username: str) -> AccountAdminOut:
    profile = await admin.account(session, tenant_id, username)
    flags, _ = await repo.flags(
        session, tenant_id, user_id=profile.user_id, open_only=False, offset=0, limit=100
    )
    return AccountAdminOut(
        profile=await my_profile(session, profile),
        flags=[FlagOut.model_validate(f) for f in flags],
    )


@router.get("/flags")
async def list_flags(
    principal: PayaAdmin,
    session: DbSession,
    page: PageQuery,
    open_only: Annotated[bool, Query(alias="open")] = True,
) -> PageEnvelope[FlagOut]:
    rows, total = await repo.flags(
        session, principal.require_tenant(), user_id=None, open_only=open_only,
        offset=page.offset, limit=page.limit,
    )  # fmt: skip
    return paginated([FlagOut.model_validate(f) for f in rows], total, page)


@router.post("/flags/{flag_id}/resolve")
async def resolve_flag(
    flag_id: uuid.UUID, data: ReasonIn, principal: PayaAdmin, session: DbSession
) -> Envelope[FlagOut]:
    row = await admin.resolve_flag(
        session, principal.require_tenant(), flag_id, data.reason, principal.require_user()
    )
    return ok(FlagOut.model_validate(row))


@router.get("/accounts/{username}")
async def get_account(
    username: str, principal: PayaAdmin, session: DbSession
) -> Envelope[AccountAdminOut]:
    return ok(await _account_out(session, principal.require_tenant(), username))


@router.post("/accounts/{username}/freeze")
async def freeze(
    username: str, data: ReasonIn, principal: PayaAdmin, session: DbSession
) -> Envelope[AccountAdminOut]:
    tenant_id = principal.require_tenant()
    profile = await admin.account(session, tenant_id, username)
    await admin.set_frozen(session, profile, True, data.reason, principal.user_id)
    return ok(await _account_out(session, tenant_id, username))


@router.post("/accounts/{username}/unfreeze")
async def unfreeze(
    username: str, data: ReasonIn, principal: PayaAdmin, session: DbSession
) -> Envelope[AccountAdminOut]:
    tenant_id = principal.require_tenant()
    profile = await admin.account(session, tenant_id, username)
    await admin.set_frozen(session, profile, False, data.reason, principal.user_id)
    return ok(await _account_out(session, tenant_id, username))


@router.post("/accounts/{username}/flag", status_code=status.HTTP_201_CREATED)
async def flag(
    username: str, data: ReasonIn, principal: PayaAdmin, session: DbSession
) -> Envelope[FlagOut]:
    profile = await admin.account(session, principal.require_tenant(), username)
    row = await admin.flag(session, profile, data.reason, principal.require_user())
    return ok(FlagOut.model_validate(row))


@router.post("/accounts/{username}/ineligible")
async def ineligible(
    username: str, data: IneligibleIn, principal: PayaAdmin, session: DbSession
) -> Envelope[AccountAdminOut]:
    tenant_id = principal.require_tenant()
    profile = await admin.account(session, tenant_id, username)
    await admin.mark_ineligible(session, profile, data.weeks, data.reason, principal.require_user())
    return ok(await _account_out(session, tenant_id, username))


@router.get("/accounts/{username}/payments")
async def history(
    username: str, principal: PayaAdmin, session: DbSession, page: PageQuery
) -> PageEnvelope[PaymentOut]:
    tenant_id = principal.require_tenant()
    profile = await admin.account(session, tenant_id, username)
    rows, total = await repo.payments_of(
        session, tenant_id, profile.user_id, page.offset, page.limit
    )
    return paginated([payment_out(p, profile.user_id) for p in rows], total, page)


@router.get("/accounts/{username}/movements")
async def movement_history(
    username: str, principal: PayaAdmin, session: DbSession, page: PageQuery
) -> PageEnvelope[MovementOut]:
    tenant_id = principal.require_tenant()
    profile = await admin.account(session, tenant_id, username)
    rows, total = await repo.movements_of(
        session, tenant_id, profile.user_id, page.offset, page.limit
    )
    return paginated([MovementOut.model_validate(m) for m in rows], total, page)


@router.post("/accounts/{username}/adjust")
async def adjust(
    username: str, data: AdjustIn, request: Request, principal: PayaAdmin, session: DbSession
) -> Envelope[AccountAdminOut]:
    """Credit or debit a wallet against the ops account, with a reason (never mints)."""
    tenant_id = principal.require_tenant()
    profile = await admin.account(session, tenant_id, username)
    key = idempotency_key(request) or uuid.uuid4().hex
    await admin.adjust(session, profile, data.amount, data.reason, principal.require_user(), key)
    return ok(await _account_out(session, tenant_id, username))


@router.get("/compliance-report", response_class=Response)
async def compliance_report(
    principal: PayaAdmin, session: DbSession, start: datetime, end: datetime
) -> Response:
    """CSV of payments, loads/redeems, flags and revenue in [start, end)."""
    body = await admin.compliance_report(
        session, principal.require_tenant(), start, end, principal.require_user()
    )
    name = f"paya-compliance-{start.date()}-{end.date()}.csv"
    return Response(
        body,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/revenue", status_code=status.HTTP_201_CREATED)
async def record_revenue(
    data: RevenueIn, request: Request, principal: PayaAdmin, session: DbSession
) -> Envelope[RevenueOut]:
    """Book revenue received in the bank account into the week's rewards pool."""
    row = await reserve.record_revenue(
        session, principal.require_tenant(), amount=data.amount, source=data.source,
        week=data.week_start, key=idempotency_key(request) or uuid.uuid4().hex,
        actor_user_id=principal.user_id,
    )  # fmt: skip
    return ok(RevenueOut.model_validate(row))


@router.post("/distributions/{week_start}")
async def distribute(week_start: date, principal: PayaAdmin) -> Envelope[DistributionOut]:
    """Run (or finish) a week's distribution now; re-running never pays twice."""
    tenant_id = principal.require_tenant()
    database = get_database()
    dist_id = await rewards.run_week(database, tenant_id, rewards.week_start(week_start))
    async with database.session(tenant_id=tenant_id) as s:
        dists = await repo.distributions(s, tenant_id, 10_000)
    return ok(DistributionOut.model_validate(next(d for d in dists if d.id == dist_id)))


@router.post("/reconcile")
async def reconcile(principal: PayaAdmin, session: DbSession) -> Envelope[SnapshotOut]:
    snapshot = await reserve.reconcile(session, principal.require_tenant())
    return ok(SnapshotOut.model_validate(snapshot))
