"""Reward catalog and redemptions: stock under contention, two-phase coins, refunds."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit.errors import IdempotencyKeyReused, NotFound
from ludus.engagement import coins, errors
from ludus.engagement.catalog import processing
from ludus.engagement.catalog.models import CatalogItem
from ludus.engagement.catalog.service import create_item, redeem, search
from tests.engagement.factories import count_events, fund
from tests.factories import make_tenant, make_user


def item_fields(**extra) -> dict:
    fields = {
        "name": "Coffee voucher",
        "description": "One large coffee",
        "category": "gift_card",
        "coin_cost": 100,
        "face_value": 500,
        "stock": -1,
        "fulfillment_type": "instant_digital",
        "status": "active",
    }
    return {**fields, **extra}


async def buy(session, tenant, user, item, key="k1", **extra):
    return await redeem(
        session,
        tenant_id=tenant.id,
        user_id=user.id,
        item_id=item.id,
        idempotency_key=key,
        product="moneylife",
        **extra,
    )


class TestContention:
    async def test_fifty_buyers_ten_in_stock(self, db) -> None:
        tenant = await make_tenant(db)
        users = [await make_user(db, tenant) for _ in range(50)]
        async with db.session(tenant_id=tenant.id) as s:
            item = await create_item(
                s, tenant_id=tenant.id, **item_fields(stock=10, visible_tenant_ids=[tenant.id])
            )
            for u in users:
                await fund(s, tenant.id, u.id, 150)

        async def attempt(user) -> str:
            try:
                async with db.session(tenant_id=tenant.id) as s:
                    await buy(s, tenant, user, item, key=f"r-{user.id}")
                return "ok"
            except errors.OutOfStock:
                return "out"

        outcomes = await asyncio.gather(*(attempt(u) for u in users))
        assert outcomes.count("ok") == 10 and outcomes.count("out") == 40
        async with db.session(tenant_id=tenant.id) as s:
            stock = await s.scalar(select(CatalogItem.stock).where(CatalogItem.id == item.id))
            assert stock == 0
            balances = [await coins.balance(s, tenant.id, u.id) for u in users]
        for outcome, available in zip(outcomes, balances, strict=True):
            assert available == (50 if outcome == "ok" else 150)


class TestLifecycle:
    async def test_failed_fulfilment_refunds(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        await fund(session, tenant.id, user.id, 300)
        item = await create_item(
            session, tenant_id=tenant.id, **item_fields(stock=5, partner_item_ref="sandbox:fail")
        )
        row, created = await buy(session, tenant, user, item)
        assert created and row.status == "pending"
        assert await coins.balance(session, tenant.id, user.id) == 200  # held
        await processing.process_redemptions(session)
        assert row.status == "refunded" and row.error_message
        assert await coins.balance(session, tenant.id, user.id) == 300
        await session.refresh(item)
        assert item.stock == 5
        steps = [(t.from_status, t.to_status) for t in await processing.history(session, row.id)]
        assert steps == [
            (None, "pending"),
            ("pending", "processing"),
            ("processing", "failed"),
            ("failed", "refunded"),
        ]
        assert await count_events(session, tenant.id, "reward.redemption.refunded") == 1
        _, total = await coins.history(session, tenant.id, user.id)
        assert total == 1  # only the grant: a voided hold posts nothing

    async def test_flaky_partner_retries_then_refunds(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        await fund(session, tenant.id, user.id, 100)
        item = await create_item(
            session, tenant_id=tenant.id, **item_fields(partner_item_ref="sandbox:flaky")
        )
        row, _ = await buy(session, tenant, user, item)
        for expected in ("processing", "processing", "refunded"):
            await processing.process_redemptions(session)
            assert row.status == expected
        assert row.attempts == 3
        assert await coins.balance(session, tenant.id, user.id) == 100

    async def test_fulfilled_then_confirmed(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        await fund(session, tenant.id, user.id, 100)
        item = await create_item(session, tenant_id=tenant.id, **item_fields())
        row, _ = await buy(session, tenant, user, item)
        await processing.process_redemptions(session)
        assert row.status == "fulfilled" and row.fulfillment_details["code"]
        rows, _ = await coins.history(session, tenant.id, user.id)
        assert (rows[0]["amount"], rows[0]["balance_after"], rows[0]["reason"]) == (
            -100,
            0,
            "redemption",
        )
        await processing.confirm(session, tenant.id, user.id, row.id)
        with pytest.raises(errors.BadTransition):
            await processing.dispute(session, tenant.id, user.id, row.id, "late")
        assert await count_events(session, tenant.id, "reward.fulfilled") == 1

    async def test_dispute_refund_by_admin(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        await fund(session, tenant.id, user.id, 100)
        item = await create_item(session, tenant_id=tenant.id, **item_fields())
        row, _ = await buy(session, tenant, user, item)
        await processing.process_redemptions(session)
        await processing.dispute(session, tenant.id, user.id, row.id, "code did not work")
        await processing.resolve(session, tenant.id, row.id, refund=True, note="ok")
        assert row.status == "refunded"
        assert await coins.balance(session, tenant.id, user.id) == 100


class TestRules:
    async def test_same_key_twice_is_one_redemption(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        await fund(session, tenant.id, user.id, 500)
        item = await create_item(session, tenant_id=tenant.id, **item_fields(stock=3))
        first, created = await buy(session, tenant, user, item, key="same")
        again, created_again = await buy(session, tenant, user, item, key="same")
        assert created and not created_again and again.id == first.id
        assert await coins.balance(session, tenant.id, user.id) == 400
        other = await create_item(session, tenant_id=tenant.id, **item_fields(name="Other"))
        with pytest.raises(IdempotencyKeyReused):
            await buy(session, tenant, user, other, key="same")

    async def test_insufficient_coins_takes_no_stock(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        await fund(session, tenant.id, user.id, 99)
        item = await create_item(session, tenant_id=tenant.id, **item_fields(stock=1))
        with pytest.raises(errors.InsufficientCoins):
            async with session.begin_nested():
                await buy(session, tenant, user, item)
        await session.refresh(item)
        assert item.stock == 1

    async def test_per_item_daily_limit_and_physical_needs_address(
        self, db, session: AsyncSession
    ) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        await fund(session, tenant.id, user.id, 1000)
        item = await create_item(session, tenant_id=tenant.id, **item_fields())
        await buy(session, tenant, user, item, key="a")
        await buy(session, tenant, user, item, key="b")
        with pytest.raises(errors.RedemptionLimit) as info:
            await buy(session, tenant, user, item, key="c")
        assert info.value.details == {"limit": "per_item_per_day"}
        mug = await create_item(
            session, tenant_id=tenant.id, **item_fields(name="Mug", fulfillment_type="physical")
        )
        with pytest.raises(errors.DeliveryRequired):
            await buy(session, tenant, user, mug, key="d")


class TestAcrossTenants:
    async def test_partner_item_redeemed_under_rls(self, db) -> None:
        partner, mine, other = await make_tenant(db), await make_tenant(db), await make_tenant(db)
        user = await make_user(db, mine)
        async with db.session(tenant_id=partner.id) as s:
            item = await create_item(
                s, tenant_id=partner.id, **item_fields(stock=2, visible_tenant_ids=[mine.id])
            )
        async with db.session(tenant_id=mine.id) as s:  # RLS on, scoped to `mine`
            await fund(s, mine.id, user.id, 100)
            row, _ = await buy(s, mine, user, item)
            await processing.fulfil_one(s, row)
            assert row.status == "fulfilled"
        async with db.session(tenant_id=other.id) as s:
            with pytest.raises(NotFound):
                await buy(s, other, await make_user(db, other), item)
        async with db.session(tenant_id=partner.id) as s:
            stock = await s.scalar(select(CatalogItem.stock).where(CatalogItem.id == item.id))
            assert stock == 1


class TestCatalogSearch:
    async def test_full_text_filters_and_visibility(self, db, session: AsyncSession) -> None:
        partner, mine, other = await make_tenant(db), await make_tenant(db), await make_tenant(db)
        for name, cost, cat, visible in [
            ("Amazon gift card", 1000, "gift_card", None),
            ("Cinema ticket", 800, "experience", [mine.id]),
            ("Charity donation tree", 200, "charity", [other.id]),
        ]:
            await create_item(
                session,
                tenant_id=partner.id,
                **item_fields(name=name, coin_cost=cost, category=cat, visible_tenant_ids=visible),
            )
        names = lambda rows: sorted(r.name for r in rows)  # noqa: E731
        rows, total = await search(session, mine.id, partner=partner.id)
        assert (names(rows), total) == (["Amazon gift card", "Cinema ticket"], 2)
        rows, _ = await search(session, mine.id, q="gift", partner=partner.id)
        assert names(rows) == ["Amazon gift card"]
        rows, _ = await search(session, other.id, min_coins=100, max_coins=900, partner=partner.id)
        assert names(rows) == ["Charity donation tree"]
        rows, _ = await search(session, mine.id, category="experience", partner=partner.id)
        assert names(rows) == ["Cinema ticket"]
        rows, _ = await search(session, mine.id, partner=uuid.uuid4())
        assert rows == []
