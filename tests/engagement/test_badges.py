"""Badges: declarative criteria, evaluated exactly once under duplicate event delivery."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.events.schemas import Event, EventMetadata
from ludus.engagement import activity, badges, coins, criteria, errors
from ludus.engagement.models import UserBadge
from ludus.engagement.tasks import ingest_product_event
from tests.engagement.factories import count_events
from tests.factories import make_tenant, make_user

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)


def badge(code: str, rule: dict, **extra) -> dict:
    return {"code": code, "name": code.title(), "rarity": "common", "criteria": rule, **extra}


async def deliver(
    session: AsyncSession, tenant, user, event_id, at, amount=0, event_type="savings.deposit"
) -> bool:
    return await activity.ingest(
        session,
        tenant_id=tenant.id,
        user_id=user.id,
        product="savings",
        event_id=event_id,
        event_type=event_type,
        occurred_at=at,
        amount=amount,
    )


async def awards(session: AsyncSession, user_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(UserBadge).where(UserBadge.user_id == user_id)
        )
        or 0
    )


class TestCriteriaValidation:
    @pytest.mark.parametrize(
        "bad",
        [
            {},
            {"all": []},
            {"event_count": {"event": "x"}},
            {"level": {"min": -1}},
            {"nope": {"min": 1}},
            {"streak": {"min": 1, "extra": 2}},
            {"level": {"min": True}},
        ],
    )
    def test_refused(self, bad) -> None:
        with pytest.raises(errors.InvalidCriteria):
            criteria.validate(bad)

    def test_nested_ok(self) -> None:
        criteria.validate(
            {
                "all": [
                    {"streak": {"min": 7}},
                    {
                        "any": [
                            {"level": {"min": 2}},
                            {"rank": {"event": "challenge.ranked", "max": 3}},
                        ]
                    },
                ]
            }
        )


class TestAwarding:
    async def test_duplicate_delivery_awards_once(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        await badges.create_badge(
            session,
            tenant_id=tenant.id,
            data=badge("THREE_DEPOSITS", {"event_count": {"event": "savings.deposit", "min": 3}}),
        )
        ids = [uuid.uuid4() for _ in range(3)]
        assert await deliver(session, tenant, user, ids[0], T0)
        assert await deliver(session, tenant, user, ids[1], T0 + timedelta(minutes=1))
        assert not await deliver(session, tenant, user, ids[1], T0 + timedelta(minutes=1))
        assert await awards(session, user.id) == 0  # the duplicate did not count as a third
        assert await deliver(session, tenant, user, ids[2], T0 + timedelta(minutes=2))
        for _ in range(3):
            assert not await deliver(session, tenant, user, ids[2], T0 + timedelta(minutes=2))
        assert await awards(session, user.id) == 1
        assert await count_events(session, tenant.id, "reward.badge.earned") == 1
        assert await coins.balance(session, tenant.id, user.id) == 10  # common → 10 coins

    async def test_concurrent_duplicates_through_the_handler(self, db) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        async with db.session(tenant_id=tenant.id) as s:
            await badges.create_badge(
                s,
                tenant_id=tenant.id,
                data=badge(
                    "FIRST_DEPOSIT", {"amount_sum": {"event": "savings.deposit", "min": 100}}
                ),
            )
        event = Event(
            event_id=uuid.uuid4(),
            event_type="savings.deposit",
            version="1.0",
            timestamp=T0,
            source="savings",
            tenant_id=tenant.id,
            data={"user_id": str(user.id), "amount": 150},
            metadata=EventMetadata(correlation_id="c", trace_id="t"),
        )

        async def handle() -> None:
            async with db.session(tenant_id=tenant.id) as s:
                await ingest_product_event(s, event)

        await asyncio.gather(*(handle() for _ in range(5)))
        await handle()  # a late redelivery
        async with db.session(tenant_id=tenant.id) as s:
            assert await awards(s, user.id) == 1
            assert await count_events(s, tenant.id, "reward.badge.earned") == 1
            assert await coins.balance(s, tenant.id, user.id) == 10

    async def test_repeatable_and_windowed(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        await badges.create_badge(
            session,
            tenant_id=tenant.id,
            data=badge(
                "EVERY_TWO",
                {"event_count": {"event": "savings.deposit", "min": 2}},
                repeatable=True,
                coin_reward=5,
            ),
        )
        await badges.create_badge(
            session,
            tenant_id=tenant.id,
            data=badge(
                "BIG_WEEK",
                {"amount_sum": {"event": "savings.deposit", "min": 1000, "window_days": 7}},
                rarity="rare",
            ),
        )
        # 600 on day 0 and 500 on day 8: never 1000 inside 7 days; then 500 on day 9 → 1000.
        for i, (day, amount) in enumerate([(0, 600), (8, 500), (9, 500), (9.5, 1)]):
            await deliver(
                session, tenant, user, uuid.uuid4(), T0 + timedelta(days=day), amount=amount
            )
            if i == 1:
                assert [b.code for _, b in await badges.earned(session, tenant.id, user.id)] == [
                    "EVERY_TWO"
                ]
        got = [(b.code, ub.seq) for ub, b in await badges.earned(session, tenant.id, user.id)]
        assert got == [("EVERY_TWO", 1), ("BIG_WEEK", 1), ("EVERY_TWO", 2)]
        # 5 + 25 (rare) + 5
        assert await coins.balance(session, tenant.id, user.id) == 35

    async def test_streak_and_level_criteria(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant)
        await badges.create_badge(
            session,
            tenant_id=tenant.id,
            data=badge(
                "WEEK_STREAK",
                {"all": [{"streak": {"min": 3}}, {"level": {"min": 0}}]},
                coin_reward=1,
            ),
        )
        for day in range(3):
            await deliver(session, tenant, user, uuid.uuid4(), T0 + timedelta(days=day))
            assert await awards(session, user.id) == (1 if day == 2 else 0)

    async def test_codes_are_unique_per_tenant(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        await badges.create_badge(
            session, tenant_id=tenant.id, data=badge("X", {"level": {"min": 1}})
        )
        with pytest.raises(errors.BadgeCodeTaken):
            await badges.create_badge(
                session, tenant_id=tenant.id, data=badge("X", {"level": {"min": 2}})
            )
