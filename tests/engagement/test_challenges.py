"""Challenges in the database: join rules, progress from events, ranking and payout."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.engagement import activity, coins, errors, social
from ludus.engagement.challenges import service
from tests.engagement.factories import events
from tests.factories import make_tenant, make_user

# Starts yesterday (joinable now); the finalize job is run with explicit times.
START = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)


async def deposit(session, tenant, user, at, amount, event_type="savings.deposit") -> None:
    await activity.ingest(
        session,
        tenant_id=tenant.id,
        user_id=user.id,
        product="savings",
        event_id=uuid.uuid4(),
        event_type=event_type,
        occurred_at=at,
        amount=amount,
    )


def weekly(**extra) -> dict:
    fields = {
        "product": "savings",
        "kind": "fixed_amount",
        "name": "Save 1000 a week",
        "config": {
            "event_types": ["savings.deposit"],
            "target": {"amount": 100_000, "frequency": "weekly"},
        },
        "scoring": {"points_per_unit": 1, "unit": 100, "completion_bonus": 100},
        "rewards": {"places": [300, 200], "participation": 10},
        "starts_at": START,
        "ends_at": START + timedelta(days=14),
    }
    return {**fields, **extra}


class TestLifecycle:
    async def test_progress_finalize_and_pay(self, db, session: AsyncSession) -> None:
        tenant = await make_tenant(db)
        ann, ben, cy = [await make_user(db, tenant) for _ in range(3)]
        challenge = await service.create(session, tenant_id=tenant.id, **weekly())
        for user in (ann, ben, cy):
            await service.join(
                session, tenant_id=tenant.id, challenge_id=challenge.id, user_id=user.id
            )
        # ann: 1000 + 1000 in two weeks → 2000 points + 100 completion = 2100
        await deposit(session, tenant, ann, START + timedelta(hours=1), 100_000)
        await deposit(session, tenant, ann, START + timedelta(days=8), 100_000)
        # ben: 2500 in week one only → 2500 points, not completed
        await deposit(session, tenant, ben, START + timedelta(days=2), 250_000)
        # cy leaves after a deposit: not ranked, not paid
        await deposit(session, tenant, cy, START + timedelta(days=1), 900_000)
        await service.leave(session, tenant_id=tenant.id, challenge_id=challenge.id, user_id=cy.id)
        # a deposit after the end does not count
        await deposit(session, tenant, ann, START + timedelta(days=15), 100_000)
        top, _ = await service.leaderboard(session, tenant.id, challenge.id, 0, 10)
        assert [(e.member_id, e.score) for e in top[:2]] == [(cy.id, 9000), (ben.id, 2500)]
        await service.finalize_due_challenges(session, START + timedelta(days=13))
        await session.refresh(challenge)
        assert challenge.status == "active"
        await service.finalize_due_challenges(session, START + timedelta(days=14))
        await session.refresh(challenge)
        assert challenge.status == "ended"
        assert [(r["user_id"], r["rank"], r["score"], r["coins"]) for r in challenge.results] == [
            (str(ben.id), 1, 2500, 300),
            (str(ann.id), 2, 2100, 200),
        ]
        assert await coins.balance(session, tenant.id, ben.id) == 300
        assert await coins.balance(session, tenant.id, ann.id) == 200
        assert await coins.balance(session, tenant.id, cy.id) == 0
        ended = await events(session, tenant.id, "social.challenge.ended")
        assert len(ended) == 1 and ended[0]["rankings"][0]["rank"] == 1
        # Running the job again pays nothing twice.
        await service.finalize_due_challenges(session, START + timedelta(days=20))
        assert await coins.balance(session, tenant.id, ben.id) == 300
        with pytest.raises(errors.ChallengeClosed):
            await service.join(
                session, tenant_id=tenant.id, challenge_id=challenge.id, user_id=cy.id
            )


class TestJoinRules:
    async def test_classroom_only_members_and_head_to_head_two(self, db, session) -> None:
        tenant = await make_tenant(db)
        teacher, pupil, stranger = [await make_user(db, tenant) for _ in range(3)]
        room = await social.create_classroom(
            session, tenant_id=tenant.id, teacher_id=teacher.id, name="5B", config={}
        )
        await social.join_classroom(
            session, tenant_id=tenant.id, user_id=pupil.id, join_code=room.join_code.lower()
        )
        cls = await service.create(
            session, tenant_id=tenant.id, **weekly(kind="classroom", classroom_id=room.id)
        )
        await service.join(session, tenant_id=tenant.id, challenge_id=cls.id, user_id=pupil.id)
        with pytest.raises(errors.ChallengeNotMember):
            await service.join(
                session, tenant_id=tenant.id, challenge_id=cls.id, user_id=stranger.id
            )
        h2h = await service.create(session, tenant_id=tenant.id, **weekly(kind="head_to_head"))
        await service.join(session, tenant_id=tenant.id, challenge_id=h2h.id, user_id=pupil.id)
        with pytest.raises(errors.ChallengeAlreadyJoined):
            await service.join(session, tenant_id=tenant.id, challenge_id=h2h.id, user_id=pupil.id)
        await service.join(session, tenant_id=tenant.id, challenge_id=h2h.id, user_id=teacher.id)
        with pytest.raises(errors.ChallengeFull):
            await service.join(
                session, tenant_id=tenant.id, challenge_id=h2h.id, user_id=stranger.id
            )

    async def test_invalid_definitions(self, db, session) -> None:
        tenant = await make_tenant(db)
        bad = [
            weekly(kind="nope"),
            weekly(config={"event_types": [], "target": {"amount": 1}}),
            weekly(config={"event_types": ["x"], "target": {"amount": 0}}),
            weekly(kind="classroom"),
            weekly(ends_at=START),
        ]
        for fields in bad:
            with pytest.raises(errors.ChallengeInvalid):
                await service.create(session, tenant_id=tenant.id, **fields)
