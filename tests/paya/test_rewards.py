from __future__ import annotations

from datetime import timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select

from ludus.core.auth.models import Role
from ludus.core.kit import clock
from ludus.core.ledger import service as ledger
from ludus.paya import accounts, rewards
from ludus.paya.models import Distribution, Payout
from ludus.paya.reserve import record_revenue
from tests.paya.helpers import OPEN_LIMITS, balance, fund, member, paya_tenant, send


class TestSplit:
    def test_hand_checked_case(self) -> None:
        # pool 1007, 20% ops = 201.4 -> 201; 806 left over 3 people = 268 each, 2 remain
        assert rewards.split(1007, 2000, 3) == (201, 268, 2)
        assert rewards.split(10, 0, 4) == (0, 2, 2)
        assert rewards.split(500, 2000, 0) == (100, 0, 400)  # nobody eligible: all stays


async def week_of_activity(client: AsyncClient, db, paya: dict | None = None):  # type: ignore[no-untyped-def]
    tenant = await paya_tenant(db, {**OPEN_LIMITS, **(paya or {})})
    admin = await member(db, client, tenant, "boss", role=Role.tenant_admin)
    active = [await member(db, client, tenant, f"act{i}") for i in range(3)]
    newbie = await member(db, client, tenant, "newbie", age_days=0)
    flagged = await member(db, client, tenant, "flaggy")
    benched = await member(db, client, tenant, "benched")
    idle = await member(db, client, tenant, "idle")
    for sender in [*active, newbie, flagged, benched]:
        await fund(db, client, sender, 5)
        assert (await send(client, sender, "idle", 1)).status_code == 201
    resp = await client.post(
        "/api/v1/paya/admin/accounts/flaggy/flag", json={"reason": "check"}, headers=admin.headers
    )
    assert resp.status_code == 201
    resp = await client.post(
        "/api/v1/paya/admin/accounts/benched/ineligible",
        json={"weeks": 1, "reason": "abuse"},
        headers=admin.headers,
    )
    assert resp.status_code == 200
    week = rewards.week_start(clock.utcnow().date())
    async with db.session(tenant_id=tenant.id) as s:
        await record_revenue(
            s, tenant.id, amount=1000, source="interest", week=week, key="r1", actor_user_id=None
        )
        await record_revenue(
            s, tenant.id, amount=7, source="fees", week=week, key="r2", actor_user_id=None
        )
    return tenant, active, (newbie, flagged, benched, idle), week


async def ledger_figures(db, tenant_id):  # type: ignore[no-untyped-def]
    async with db.session(tenant_id=tenant_id) as s:
        accts = await accounts.tenant_accounts(s, tenant_id)
        ops = await accounts.balance(s, tenant_id, accts.ops)
        revenue = await accounts.balance(s, tenant_id, accts.revenue)
        report = await ledger.verify(s, tenant_id=tenant_id)
        payouts = await s.scalar(
            select(func.count())
            .select_from(Payout)
            .where(Payout.tenant_id == tenant_id, Payout.paid_at.is_not(None))
        )
    return ops, revenue, report.ok, payouts


class TestWeeklyDistribution:
    async def test_pays_eligible_members_once_even_when_run_twice(
        self, client: AsyncClient, db
    ) -> None:
        tenant, active, others, week = await week_of_activity(client, db)
        before = [await balance(client, a) for a in active]
        others_before = [await balance(client, o) for o in others]
        clock.advance(8 * 86400)
        for _ in range(2):
            await rewards.run_week(db, tenant.id, week)
        async with db.session(tenant_id=tenant.id) as s:
            dist = (await s.execute(select(Distribution))).scalar_one()
        assert (dist.pool, dist.ops_amount, dist.share, dist.eligible_count, dist.remainder) == (
            1007,
            201,
            268,
            3,
            2,
        )
        assert dist.status == "completed"
        clock.reset()
        assert [await balance(client, a) for a in active] == [b + 268 for b in before]
        assert [await balance(client, o) for o in others] == others_before
        assert await ledger_figures(db, tenant.id) == (201, 2, True, 3)

    async def test_killed_half_way_then_resumed(self, client: AsyncClient, db) -> None:
        tenant, active, _, week = await week_of_activity(
            client, db, {"rewards": {"payout_batch_size": 2}}
        )
        before = [await balance(client, a) for a in active]
        clock.advance(8 * 86400)

        async def crash(paid: int) -> None:
            raise RuntimeError("worker killed")

        with pytest.raises(RuntimeError):
            await rewards.run_week(db, tenant.id, week, on_batch_committed=crash)
        ops, _revenue, ok, paid = await ledger_figures(db, tenant.id)
        assert (paid, ops, ok) == (2, 201, True)  # first batch (2 members + ops) committed
        await rewards.run_week(db, tenant.id, week)
        await rewards.run_week(db, tenant.id, week)
        clock.reset()
        assert [await balance(client, a) for a in active] == [b + 268 for b in before]
        assert await ledger_figures(db, tenant.id) == (201, 2, True, 3)

    async def test_remainder_carries_into_next_week(self, client: AsyncClient, db) -> None:
        tenant, _active, _, week = await week_of_activity(client, db)
        clock.advance(8 * 86400)
        await rewards.run_week(db, tenant.id, week)
        nothing_new = week + timedelta(days=7)
        clock.advance(7 * 86400)
        await rewards.run_week(db, tenant.id, nothing_new)
        async with db.session(tenant_id=tenant.id) as s:
            second = await rewards.repo.distribution_for(s, tenant.id, nothing_new)
        assert second is not None
        # no payments that week: nobody eligible, the carried 2 tokens stay in the pool
        assert (second.carry_in, second.pool, second.eligible_count, second.remainder) == (
            2,
            2,
            0,
            2,
        )

    async def test_current_week_cannot_be_distributed(self, db) -> None:
        tenant = await paya_tenant(db)
        with pytest.raises(rewards.WeekNotOver):
            await rewards.run_week(db, tenant.id, rewards.week_start(clock.utcnow().date()))
