"""Reserve, revenue and transparency.

The reserve ledger account mirrors PaYa's FBO bank account: a settled load mints tokens
against it, a started redeem burns them back into it, booked revenue adds to it. So at
every moment `tokens in circulation == -reserve balance` (the ledger's double entry), and
the daily reconciliation also recomputes the bank balance from the money movements and
revenue, checks all three agree and the ledger verifies, and raises an alert if not.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.audit import service as audit
from ludus.core.events.service import emit
from ludus.core.kit import clock
from ludus.core.ledger import service as ledger
from ludus.paya import accounts
from ludus.paya import repository as repo
from ludus.paya.config import ASSET
from ludus.paya.models import ReserveSnapshot, Revenue
from ludus.paya.rewards import week_start
from ludus.paya.schemas import (
    DistributionOut,
    SnapshotOut,
    Transparency,
    WeekRevenue,
)


async def record_revenue(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    amount: int,
    source: str,
    week: date | None,
    key: str,
    actor_user_id: uuid.UUID | None,
) -> Revenue:
    """Revenue that reached the bank account: minted into the revenue (rewards) pool."""
    earlier = await repo.revenue_by_key(session, tenant_id, key)
    if earlier is not None:
        return earlier
    week = week_start(week or clock.utcnow().date())
    accts = await accounts.tenant_accounts(session, tenant_id)
    tx = await ledger.move(
        session,
        tenant_id=tenant_id,
        idempotency_key=f"paya:revenue:{key}",
        kind="paya.revenue",
        from_account=accts.reserve,
        to_account=accts.revenue,
        amount=amount,
        metadata={"source": source, "week_start": week.isoformat()},
    )
    row = Revenue(
        id=uuid.uuid4(), tenant_id=tenant_id, week_start=week, amount=amount, source=source,
        ledger_tx_id=tx.id, idempotency_key=key, created_at=clock.utcnow(),
    )  # fmt: skip
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        action="paya.revenue.recorded",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="paya_revenue",
        target_id=row.id,
        after={"amount": amount, "source": source, "week_start": week.isoformat()},
    )
    return row


async def figures(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, int]:
    accts = await accounts.tenant_accounts(session, tenant_id)
    reserve = -(await accounts.balance(session, tenant_id, accts.reserve))
    circulation = await ledger.total_supply(session, tenant_id=tenant_id, asset=ASSET)
    sums = await repo.sum_movements(session, tenant_id)
    bank = (
        sums.get("load:settled", 0)
        - sums.get("redeem:pending", 0)
        - sums.get("redeem:settled", 0)
        + await repo.revenue_total(session, tenant_id)
    )
    return {
        "reserve": reserve,
        "circulation": circulation,
        "bank_balance": bank,
        "pending_loads": await repo.pending_loads(session, tenant_id),
        "active_users": await repo.active_user_count(
            session, tenant_id, clock.utcnow() - timedelta(days=7)
        ),
    }


async def reconcile(session: AsyncSession, tenant_id: uuid.UUID) -> ReserveSnapshot:
    """Compare circulation, reserve and the bank balance; store a snapshot; alert on drift."""
    numbers = await figures(session, tenant_id)
    report = await ledger.verify(session, tenant_id=tenant_id)
    agree = numbers["reserve"] == numbers["circulation"] == numbers["bank_balance"]
    failed = [c.name for c in report.failed]
    snapshot = ReserveSnapshot(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        taken_at=clock.utcnow(),
        matched=agree and report.ok,
        details={"ledger_ok": report.ok, "failed_checks": failed},
        **numbers,
    )
    session.add(snapshot)
    await session.flush()
    if not snapshot.matched:
        await emit(
            session,
            event_type="paya.reserve.mismatch",
            tenant_id=tenant_id,
            source="paya",
            data={**numbers, "ledger_ok": report.ok, "failed_checks": failed},
        )
    return snapshot


def backing_ratio(reserve: int, circulation: int) -> str:
    if circulation == 0:
        return "1.0000"
    ratio = (Decimal(reserve) / Decimal(circulation)).quantize(Decimal("0.0001"), ROUND_DOWN)
    return str(ratio)


async def transparency(session: AsyncSession, tenant_id: uuid.UUID) -> Transparency:
    numbers = await figures(session, tenant_id)
    return Transparency(
        asset=ASSET,
        reserve=numbers["reserve"],
        circulation=numbers["circulation"],
        backing_ratio=backing_ratio(numbers["reserve"], numbers["circulation"]),
        pending_loads=numbers["pending_loads"],
        active_users_7d=numbers["active_users"],
        weekly_revenue=[
            WeekRevenue(week_start=w, amount=a)
            for w, a in await repo.revenue_by_week(session, tenant_id, 12)
        ],
        distributions=[
            DistributionOut.model_validate(d)
            for d in await repo.distributions(session, tenant_id, 12)
        ],
        snapshots=[
            SnapshotOut.model_validate(s) for s in await repo.snapshots(session, tenant_id, 30)
        ],
    )
