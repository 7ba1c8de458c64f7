"""STK reconciliation: settle STK pushes still "initiated" whose callback never came.

For each such request (older than a few minutes, younger than a day): if a deposit with its
CheckoutRequestID exists (the callback raced the initiation), adopt it; otherwise ask
M-Pesa (STK query). A failure answer (cancelled, timeout, insufficient funds, ...) settles
the request. A success answer carries no receipt, and the receipt is what makes a deposit
count once, so money still arrives only through the callback (Safaricom redelivers it);
the request stays open and the answer is noted. No answer yet: try again next run.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.savings import repository
from ludus.savings.batch import STK_STATUS
from ludus.savings.models import Deposit, SavingsOrg, StkRequest, StkStatus
from ludus.savings.mpesa.base import StkResult
from ludus.savings.mpesa.factory import adapter_for

log = structlog.get_logger("ludus.savings")
MIN_AGE = timedelta(minutes=3)  # Daraja gives up on an unanswered prompt well before this
MAX_AGE = timedelta(days=1)


@dataclass
class Report:
    adopted: int = 0  # a deposit already existed
    settled: int = 0  # M-Pesa reported a failure
    paid_awaiting_callback: int = 0
    still_open: int = 0
    errors: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


async def reconcile_all(
    db: Database,
    *,
    tenant_id: uuid.UUID | None = None,
    min_age: timedelta = MIN_AGE,
    limit: int = 500,
) -> Report:
    """One pass over every org (or one org); the periodic job calls this."""
    now = clock.utcnow()
    query = (
        select(StkRequest.tenant_id, StkRequest.id)
        .where(
            StkRequest.status == StkStatus.initiated,
            StkRequest.created_at < now - min_age,
            StkRequest.created_at > now - MAX_AGE,
        )
        .order_by(StkRequest.created_at)
        .limit(limit)
    )
    if tenant_id is not None:
        query = query.where(StkRequest.tenant_id == tenant_id)
    async with db.session(system=True) as s:
        rows = await s.execute(query)
        by_tenant: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for tenant, request_id in rows.all():
            by_tenant[tenant].append(request_id)
    report = Report()
    for tenant, ids in by_tenant.items():
        async with db.session(tenant_id=tenant) as s:
            org = await repository.get_org(s, tenant)
            if org is not None:
                await _reconcile_org(s, org, ids, report)
    return report


async def _reconcile_org(
    session: AsyncSession, org: SavingsOrg, ids: list[uuid.UUID], report: Report
) -> None:
    requests = (
        (
            await session.execute(
                select(StkRequest)
                .where(StkRequest.id.in_(ids), StkRequest.status == StkStatus.initiated)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    found = await session.execute(
        select(Deposit.checkout_request_id, Deposit.receipt).where(
            Deposit.tenant_id == org.tenant_id,
            Deposit.checkout_request_id.in_([r.checkout_request_id for r in requests]),
        )
    )
    receipts = dict(found.all())
    adapter = adapter_for(org)
    for request in requests:
        receipt = receipts.get(request.checkout_request_id)
        if receipt is not None:
            request.status, request.receipt = StkStatus.succeeded, receipt
            report.adopted += 1
            continue
        try:
            answer = await adapter.stk_query(request.checkout_request_id)
        except Exception:
            log.warning("savings_stk_query_failed", request_id=str(request.id), exc_info=True)
            report.errors += 1
            continue
        if answer.result_code is None:
            report.still_open += 1
            continue
        request.result_code = answer.result_code
        request.result_desc = answer.result_desc[:300]
        if answer.result_code == StkResult.success:
            report.paid_awaiting_callback += 1
            continue
        request.status = STK_STATUS.get(answer.result_code, StkStatus.failed)  # type: ignore[call-overload]
        report.settled += 1
        report.by_status[str(request.status)] = report.by_status.get(str(request.status), 0) + 1
    await session.flush()
