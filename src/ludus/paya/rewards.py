"""Weekly rewards: revenue booked per week is shared among the week's eligible members.

Arithmetic (integer tokens, nothing rounds up):
    pool        = revenue counted this week + remainder carried from the last distribution
    ops         = pool * ops_allocation_bps // 10_000
    share       = (pool - ops) // eligible           (0 when nobody is eligible)
    remainder   = pool - ops - share * eligible       stays in the revenue account and is
                                                      carried into next week's pool
Exactly once per (tenant, week): the distribution row is unique per week and is written
together with one payout row per member (unique per distribution and user) before any
token moves. Paying then takes unpaid payouts in batches; each batch is ONE ledger
transaction (revenue → wallets, plus the ops leg in the first batch) committed together
with its payouts' `paid_at`, so a crash between batches resumes where it stopped and a
re-run finds nothing left to pay.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.events.service import emit
from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.core.kit.errors import error_code
from ludus.core.ledger import service as ledger
from ludus.paya import accounts
from ludus.paya import repository as repo
from ludus.paya.models import Distribution, Payout

WeekNotOver = error_code(409, "WEEK_NOT_OVER", "Rewards are distributed after the week ends.")
BatchHook = Callable[[int], Awaitable[None]]


def week_start(day: date) -> date:
    """Monday of the (UTC) week containing `day`."""
    return day - timedelta(days=day.weekday())


def week_bounds(week: date) -> tuple[datetime, datetime]:
    start = datetime.combine(week, time.min, tzinfo=UTC)
    return start, start + timedelta(days=7)


def split(pool: int, ops_bps: int, eligible: int) -> tuple[int, int, int]:
    """(ops, share, remainder) for a pool; see the module docstring."""
    ops = pool * ops_bps // 10_000
    share = (pool - ops) // eligible if eligible > 0 else 0
    return ops, share, pool - ops - share * eligible


async def eligible_users(
    session: AsyncSession, tenant_id: uuid.UUID, week: date
) -> list[uuid.UUID]:
    config = (await accounts.rules(session, tenant_id)).rewards
    start, end = week_bounds(week)
    if config.min_weekly_payments > 0:
        active = await repo.active_senders(
            session, tenant_id, start, end, config.min_weekly_payments
        )
        profiles = list((await repo.profiles_by_users(session, tenant_id, list(active))).values())
    else:
        profiles = list(await repo.all_profiles(session, tenant_id))
    flagged = await repo.flagged_users(session, tenant_id)
    oldest_joined = end - timedelta(days=config.min_account_age_days)
    return sorted(
        p.user_id
        for p in profiles
        if p.status == "active"
        and p.created_at <= oldest_joined
        and p.user_id not in flagged
        and (p.ineligible_until is None or p.ineligible_until <= week)
    )


async def prepare(session: AsyncSession, tenant_id: uuid.UUID, week: date) -> Distribution:
    """The week's distribution with its payout rows, computed once."""
    existing = await repo.distribution_for(session, tenant_id, week)
    if existing is not None:
        return existing
    if week_bounds(week)[1] > clock.utcnow():
        raise WeekNotOver(details={"week_start": week.isoformat()})
    earlier = await repo.distributions(session, tenant_id, 10_000)
    counted = sum(d.revenue for d in earlier if d.week_start < week)
    revenue = await repo.revenue_total(session, tenant_id, until_week=week) - counted
    previous = await repo.previous_distribution(session, tenant_id, week)
    carry_in = previous.remainder if previous is not None else 0
    users = await eligible_users(session, tenant_id, week)
    pool = revenue + carry_in
    rewards = (await accounts.rules(session, tenant_id)).rewards
    ops, share, remainder = split(pool, rewards.ops_allocation_bps, len(users))
    dist_id = uuid.uuid4()
    inserted = await session.scalar(
        insert(Distribution)
        .values(
            id=dist_id, tenant_id=tenant_id, week_start=week, revenue=revenue, carry_in=carry_in,
            pool=pool, ops_amount=ops, share=share, eligible_count=len(users),
            remainder=remainder, status="paying", created_at=clock.utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "week_start"])
        .returning(Distribution.id)
    )  # fmt: skip
    if inserted is not None and share > 0:
        await session.execute(
            insert(Payout),
            [
                {"id": uuid.uuid4(), "tenant_id": tenant_id, "distribution_id": dist_id,
                 "user_id": u, "amount": share}
                for u in users
            ],
        )  # fmt: skip
    found = await repo.distribution_for(session, tenant_id, week)
    assert found is not None
    return found


async def pay_batch(
    session: AsyncSession, tenant_id: uuid.UUID, distribution_id: uuid.UUID, size: int
) -> int:
    """Pay up to `size` unpaid payouts in one ledger transaction; returns how many."""
    dist = (
        await session.execute(
            select(Distribution).where(Distribution.id == distribution_id).with_for_update()
        )
    ).scalar_one()
    if dist.status == "completed":
        return 0
    payouts = list(await repo.unpaid_payouts(session, distribution_id, size))
    with_ops = dist.ops_tx_id is None and dist.ops_amount > 0
    if not payouts and not with_ops:
        return 0
    accts = await accounts.tenant_accounts(session, tenant_id)
    wallets = await repo.profiles_by_users(session, tenant_id, [p.user_id for p in payouts])
    entries = [(wallets[p.user_id].wallet_account_id, p.amount) for p in payouts]
    if with_ops:
        entries.append((accts.ops, dist.ops_amount))
    entries.append((accts.revenue, -sum(amount for _, amount in entries)))
    first = str(payouts[0].user_id) if payouts else "ops"
    tx = await ledger.transfer(
        session,
        tenant_id=tenant_id,
        idempotency_key=f"paya:rewards:{dist.id}:{first}",
        kind="paya.rewards",
        entries=entries,
        metadata={"distribution_id": str(dist.id), "week_start": dist.week_start.isoformat()},
    )
    now = clock.utcnow()
    for payout in payouts:
        payout.ledger_tx_id = tx.id
        payout.paid_at = now
    if with_ops:
        dist.ops_tx_id = tx.id
    await session.flush()
    return len(payouts) + int(with_ops)


async def complete(session: AsyncSession, tenant_id: uuid.UUID, distribution_id: uuid.UUID) -> bool:
    dist = (
        await session.execute(
            select(Distribution).where(Distribution.id == distribution_id).with_for_update()
        )
    ).scalar_one()
    if dist.status == "completed":
        return False
    if await repo.unpaid_payouts(session, distribution_id, 1) or (
        dist.ops_tx_id is None and dist.ops_amount > 0
    ):
        return False
    dist.status = "completed"
    dist.completed_at = clock.utcnow()
    await emit(
        session,
        event_type="paya.rewards.distributed",
        tenant_id=tenant_id,
        source="paya",
        data={
            "distribution_id": str(dist.id),
            "week_start": dist.week_start.isoformat(),
            "pool": dist.pool,
            "ops_amount": dist.ops_amount,
            "share": dist.share,
            "eligible_count": dist.eligible_count,
            "remainder": dist.remainder,
        },
    )
    return True


async def run_week(
    db: Database,
    tenant_id: uuid.UUID,
    week: date,
    *,
    on_batch_committed: BatchHook | None = None,
) -> uuid.UUID:
    """Compute, pay and publish one week's distribution; safe to re-run at any point."""
    async with db.session(tenant_id=tenant_id) as session:
        dist = await prepare(session, tenant_id, week)
        size = (await accounts.rules(session, tenant_id)).rewards.payout_batch_size
    while True:
        async with db.session(tenant_id=tenant_id) as session:
            paid = await pay_batch(session, tenant_id, dist.id, size)
        if paid == 0:
            break
        if on_batch_committed is not None:
            await on_batch_committed(paid)
    async with db.session(tenant_id=tenant_id) as session:
        await complete(session, tenant_id, dist.id)
    return dist.id
