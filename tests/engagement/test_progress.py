"""Coins on the ledger, XP and levels, streak shields/insurance with coins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.engagement import coins, errors, service
from ludus.engagement.rules import CoinRules, EngagementRules, LevelRule
from tests.engagement.factories import count_events, events, fund
from tests.factories import make_tenant, make_user


class TestCoins:
    async def test_earn_spend_and_history(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        await coins.earn(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            amount=120,
            reason="card_decision",
            reference="card-1",
            idempotency_key="k1",
        )
        # Same key again: one credit.
        again = await coins.earn(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            amount=120,
            reason="card_decision",
            reference="card-1",
            idempotency_key="k1",
        )
        assert again.replayed
        await coins.spend(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            amount=50,
            reason="hint",
            reference="card-2",
            idempotency_key="s1",
        )
        assert await coins.balance(session, tenant.id, user.id) == 70
        rows, total = await coins.history(session, tenant.id, user.id)
        assert total == 2
        assert [
            (r["amount"], r["balance_after"], r["reason"], r["reference_id"]) for r in rows
        ] == [
            (-50, 70, "hint", "card-2"),
            (120, 120, "card_decision", "card-1"),
        ]
        assert await count_events(session, tenant.id, "reward.coins.earned") == 1

    async def test_spend_without_coins_changes_nothing(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        await fund(session, tenant.id, user.id, 10)
        with pytest.raises(errors.InsufficientCoins):
            await coins.spend(
                session,
                tenant_id=tenant.id,
                user_id=user.id,
                amount=11,
                reason="hint",
                reference=None,
                idempotency_key="s",
            )
        assert await coins.balance(session, tenant.id, user.id) == 10

    async def test_daily_cap_and_velocity(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        rules = CoinRules(daily_cap=100, per_minute=3)
        for i in range(2):
            await coins.earn(
                session,
                tenant_id=tenant.id,
                user_id=user.id,
                amount=40,
                reason="card",
                reference=None,
                idempotency_key=f"a{i}",
                rules=rules,
            )
        with pytest.raises(errors.DailyCapReached):
            await coins.earn(
                session,
                tenant_id=tenant.id,
                user_id=user.id,
                amount=21,
                reason="card",
                reference=None,
                idempotency_key="a2",
                rules=rules,
            )
        assert await coins.balance(session, tenant.id, user.id) == 80
        await coins.earn(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            amount=20,
            reason="card",
            reference=None,
            idempotency_key="a3",
            rules=rules,
        )
        with pytest.raises(errors.VelocityExceeded):  # 4th earning in the same minute
            await coins.earn(
                session,
                tenant_id=tenant.id,
                user_id=user.id,
                amount=1,
                reason="card",
                reference=None,
                idempotency_key="a4",
                rules=CoinRules(daily_cap=0, per_minute=3),
            )
        assert await coins.balance(session, tenant.id, user.id) == 100


LEVELS = [
    LevelRule(level=1, xp=500, coins=100),
    LevelRule(level=2, xp=2000, coins=200, conditions={"savings": 50}),
    LevelRule(level=3, xp=5000, coins=300),
]


class TestLevels:
    async def test_level_up_needs_xp_and_conditions(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        rules = EngagementRules(levels=LEVELS)
        row, gained = await service.award_xp(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            product="moneylife",
            amount=2500,
            reason="x",
            rules=rules,
        )
        assert (row.level, gained) == (1, [1])  # level 2 waits for savings ≥ 50
        gained = await service.update_facts(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            product="moneylife",
            facts={"savings": 50},
            rules=rules,
        )
        assert gained == [2]
        _, gained = await service.award_xp(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            product="moneylife",
            amount=2500,
            reason="x",
            rules=rules,
        )
        assert gained == [3]
        ups = await events(session, tenant.id, "reward.level.up")
        assert [e["new_level"] for e in ups] == [1, 2, 3]
        assert await coins.balance(session, tenant.id, user.id) == 600  # 100 + 200 + 300

    async def test_level_four_and_tiers(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        # Default thresholds without the XP bonus, so the cumulative XP is exact.
        rules = EngagementRules()
        rules = rules.model_copy(
            update={"levels": [r.model_copy(update={"xp_bonus": 0}) for r in rules.levels]}
        )
        row, _ = await service.award_xp(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            product="moneylife",
            amount=9_999,
            reason="x",
            rules=rules,
        )
        assert row.level == 3  # L1-L3 cleared: still playing L4 at 9,999 XP
        row, gained = await service.award_xp(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            product="moneylife",
            amount=1,
            reason="x",
            rules=rules,
        )
        assert (row.level, gained) == (4, [4])
        # 100 + 200 + 300 for L1-L3, then 400 for clearing L4
        assert await coins.balance(session, tenant.id, user.id) == 1000
        row.lifetime_xp = 14_999
        assert service.achievements(row, rules)["tier_level"] == 3
        row.lifetime_xp = 15_000
        tier = service.achievements(row, rules)
        assert (tier["tier_level"], tier["coin_bonus_pct"]) == (4, 5)


class TestActivityCoins:
    async def test_streak_and_tier_multiply_coins(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        rules = EngagementRules()
        rules = rules.model_copy(update={"levels": []})  # keep XP exact: no level rewards
        await service.award_xp(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            product="moneylife",
            amount=15_000,
            reason="x",
            rules=rules,
        )
        now = clock.utcnow()
        for i in range(7, 0, -1):  # a 7-day streak ending yesterday
            await service.record_streak_action(
                session,
                tenant_id=tenant.id,
                user_id=user.id,
                product="moneylife",
                at=now - timedelta(days=i),
            )
        before = await coins.balance(session, tenant.id, user.id)  # day-7 milestone coins
        await service.earn_coins(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            product="moneylife",
            base=20,
            reason="card_decision",
            reference="card-9",
            idempotency_key="card-9",
        )
        # 20 × 1.1 (7-day streak) × 1.05 (tier 4 at 15,000 XP) = 23.1 → 23
        assert await coins.balance(session, tenant.id, user.id) - before == 23


class TestStreakPurchases:
    async def _streak(self, session: AsyncSession, tenant, user, days: int) -> None:
        now = clock.utcnow()
        for i in range(days, 0, -1):
            await service.record_streak_action(
                session,
                tenant_id=tenant.id,
                user_id=user.id,
                product="moneylife",
                at=now - timedelta(days=i),
            )

    async def test_shield_without_coins(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        await self._streak(session, tenant, user, 3)
        with pytest.raises(errors.InsufficientCoins):
            await service.activate_shield(
                session, tenant_id=tenant.id, user_id=user.id, product="moneylife"
            )
        view = await service.get_streak(session, tenant.id, user.id, "moneylife")
        assert view.current == 3 and view.grace_until is None

    async def test_shield_and_insurance_cost_coins(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        await fund(session, tenant.id, user.id, 200)
        await self._streak(session, tenant, user, 8)
        result = await service.activate_shield(
            session, tenant_id=tenant.id, user_id=user.id, product="moneylife"
        )
        assert result["coins_deducted"] == 50
        with pytest.raises(errors.ShieldActive):
            await service.activate_shield(
                session, tenant_id=tenant.id, user_id=user.id, product="moneylife"
            )
        # 200 granted + 10 for the day-7 milestone - 50 for the shield
        assert await coins.balance(session, tenant.id, user.id) == 160
        clock.advance(2 * 86400)  # past even the shielded deadline, inside the window
        out = await service.purchase_insurance(
            session, tenant_id=tenant.id, user_id=user.id, product="moneylife"
        )
        assert out["current"] == 8
        assert await coins.balance(session, tenant.id, user.id) == 60  # - 100 insurance
        assert [e["streak_length"] for e in await events(session, tenant.id, "streak.broken")] == [
            8
        ]
        assert [e["days"] for e in await events(session, tenant.id, "streak.milestone")] == [7]
        with pytest.raises(errors.NotBroken):
            await service.purchase_insurance(
                session, tenant_id=tenant.id, user_id=user.id, product="moneylife"
            )
