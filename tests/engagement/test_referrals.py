"""Referrals: code format, attribution, abuse refused with codes, rewards on confirmation."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.auth.models import AuthSession
from ludus.core.kit import clock
from ludus.engagement import coins, errors, referrals
from tests.factories import make_tenant, make_user

CONFIG = {"engagement": {"default": {"referral": {"prefix": "ML"}}}}


def phone() -> str:
    return f"+2547{uuid.uuid4().int % 10**8:08d}"


async def setup(db, session: AsyncSession):
    tenant = await make_tenant(db, config=CONFIG)
    alex = await make_user(db, tenant, display_name="Alex Doe", phone=phone())
    code = await referrals.code_for(session, tenant.id, alex.id, "moneylife")
    return tenant, alex, code.code


async def claim(session, tenant, user, code, **extra):
    return await referrals.attribute(
        session, tenant_id=tenant.id, referee_id=user.id, code=code, product="moneylife", **extra
    )


class TestAbuse:
    async def test_code_format_and_stable(self, db, session: AsyncSession) -> None:
        tenant, alex, code = await setup(db, session)
        assert re.fullmatch(r"ML-ALEX-[A-HJ-NP-Z2-9]{4}", code)
        again = await referrals.code_for(session, tenant.id, alex.id, "moneylife")
        assert again.code == code

    async def test_refusals(self, db, session: AsyncSession) -> None:
        tenant, alex, code = await setup(db, session)
        session.add(
            AuthSession(
                id=uuid.uuid4(), tenant_id=tenant.id, user_id=alex.id, device_id="alex-phone"
            )
        )
        await session.flush()
        cases = [
            (alex, {}, errors.ReferralSelf),
            (
                await make_user(db, tenant),
                {"device_id": "alex-phone"},
                errors.ReferralDuplicateDevice,
            ),
            (await make_user(db, tenant), {"phone": alex.phone}, errors.ReferralDuplicatePhone),
        ]
        for user, extra, error in cases:
            with pytest.raises(error):
                await claim(session, tenant, user, code, **extra)
        with pytest.raises(errors.ReferralCodeInvalid):
            await claim(session, tenant, await make_user(db, tenant), "ML-NOPE-2222")
        first = await make_user(db, tenant)
        used = phone()
        await claim(session, tenant, first, code, device_id="d1", phone=used)
        with pytest.raises(errors.ReferralAlreadyAttributed):
            await claim(session, tenant, first, code)
        with pytest.raises(errors.ReferralDuplicateDevice):  # another account, same device
            await claim(session, tenant, await make_user(db, tenant), code, device_id="d1")
        with pytest.raises(errors.ReferralDuplicatePhone):
            await claim(session, tenant, await make_user(db, tenant), code, phone=used)

    async def test_cap_per_thirty_days(self, db, session: AsyncSession) -> None:
        tenant, _, code = await setup(db, session)
        for i in range(3):  # default: 3 per 30 days
            await claim(session, tenant, await make_user(db, tenant), code, device_id=f"d{i}")
        with pytest.raises(errors.ReferralCapReached):
            await claim(session, tenant, await make_user(db, tenant), code, device_id="d9")

    async def test_too_late_after_registration(self, db, session: AsyncSession) -> None:
        tenant, _, code = await setup(db, session)
        late = await make_user(db, tenant)
        clock.advance(8 * 86400)
        with pytest.raises(errors.ReferralTooLate):
            await claim(session, tenant, late, code)


class TestConfirmation:
    async def test_rewards_both_after_qualifying_event(self, db, session: AsyncSession) -> None:
        tenant, alex, code = await setup(db, session)
        sam = await make_user(db, tenant)
        row = await claim(session, tenant, sam, code, device_id="sam-phone")
        soon = row.created_at + timedelta(days=3)
        later = row.created_at + timedelta(days=8)
        args = {
            "tenant_id": tenant.id,
            "user_id": sam.id,
            "product": "moneylife",
            "event_type": "level.up",
        }
        assert await referrals.on_event(session, **args, amount=2, at=soon) is None  # < 7 days
        assert await referrals.on_event(session, **args, amount=1, at=later) is None  # level 1
        done = await referrals.on_event(session, **args, amount=2, at=later)
        assert done is not None and done.status == "rewarded"
        assert await coins.balance(session, tenant.id, alex.id) == 200
        assert await coins.balance(session, tenant.id, sam.id) == 100
        assert await referrals.on_event(session, **args, amount=3, at=later) is None
        stats = await referrals.stats(session, tenant.id, alex.id, "moneylife")
        assert (stats["referrals_count"], stats["referrals_remaining"]) == (1, 9)
