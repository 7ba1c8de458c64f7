"""Referrals: per-user codes (e.g. ML-ALEX-7K2F), attribution at registration, confirmation
on a qualifying event after a minimum age, rewards to both sides, caps and abuse checks."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.auth.models import AuthSession, User
from ludus.core.kit import clock
from ludus.engagement import coins, errors, service
from ludus.engagement.models import Referral, ReferralCode
from ludus.engagement.outbox import publish
from ludus.engagement.rules import EngagementRules, load_rules
from ludus.engagement.social import CODE_ALPHABET

ATTRIBUTION_WINDOW = timedelta(days=7)


def make_code(prefix: str, display_name: str) -> str:
    name = re.sub(r"[^A-Z]", "", (display_name.split() or ["USER"])[0].upper())[:8] or "USER"
    return f"{prefix.upper()}-{name}-{''.join(secrets.choice(CODE_ALPHABET) for _ in range(4))}"


async def code_for(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, product: str
) -> ReferralCode:
    row = await session.scalar(
        select(ReferralCode).where(
            ReferralCode.tenant_id == tenant_id, ReferralCode.user_id == user_id
        )
    )
    if row is not None:
        return row
    rules = await load_rules(session, tenant_id, product)
    name = await session.scalar(select(User.display_name).where(User.id == user_id)) or "USER"
    for _ in range(10):
        code = make_code(rules.referral.prefix, name)
        taken = await session.scalar(
            select(ReferralCode.id).where(
                ReferralCode.tenant_id == tenant_id, ReferralCode.code == code
            )
        )
        if taken is None:
            break
    row = ReferralCode(id=uuid.uuid4(), tenant_id=tenant_id, user_id=user_id, code=code)
    session.add(row)
    await session.flush()
    return row


async def stats(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, product: str
) -> dict[str, Any]:
    rules = await load_rules(session, tenant_id, product)
    code = await code_for(session, tenant_id, user_id, product)
    count = await session.scalar(
        select(func.count()).where(
            Referral.tenant_id == tenant_id,
            Referral.referrer_id == user_id,
            Referral.status == "rewarded",
        )
    )
    return {
        "code": code.code,
        "referrals_count": int(count or 0),
        "referrals_remaining": max(rules.referral.max_total - int(count or 0), 0),
    }


async def attribute(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    referee_id: uuid.UUID,
    code: str,
    product: str,
    device_id: str | None = None,
    phone: str | None = None,
) -> Referral:
    """Link a newly registered user to the owner of `code`; abuse is refused with a code."""
    rules = await load_rules(session, tenant_id, product)
    owner = await session.scalar(
        select(ReferralCode)
        .where(ReferralCode.tenant_id == tenant_id, ReferralCode.code == code.strip().upper())
        .with_for_update()  # serializes attributions per referrer, so the cap holds
    )
    if owner is None:
        raise errors.ReferralCodeInvalid()
    referrer_id = owner.user_id
    if referrer_id == referee_id:
        raise errors.ReferralSelf()
    referee = await session.get(User, referee_id)
    now = clock.utcnow()
    if referee is not None and now - referee.created_at > ATTRIBUTION_WINDOW:
        raise errors.ReferralTooLate()
    phone = phone or (referee.phone if referee else None)
    already = await session.scalar(
        select(Referral.id).where(
            Referral.tenant_id == tenant_id, Referral.referee_id == referee_id
        )
    )
    if already is not None:
        raise errors.ReferralAlreadyAttributed()
    if device_id:
        await _check_device(session, tenant_id, referrer_id, device_id)
    if phone:
        referrer_phone = await session.scalar(select(User.phone).where(User.id == referrer_id))
        dup = await session.scalar(
            select(Referral.id).where(Referral.tenant_id == tenant_id, Referral.phone == phone)
        )
        if dup is not None or referrer_phone == phone:
            raise errors.ReferralDuplicatePhone()
    await _check_cap(session, tenant_id, referrer_id, rules, now)
    row = Referral(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        referrer_id=referrer_id,
        referee_id=referee_id,
        code=owner.code,
        status="pending",
        device_id=device_id,
        phone=phone,
    )
    session.add(row)
    await session.flush()
    return row


async def _check_device(
    session: AsyncSession, tenant_id: uuid.UUID, referrer_id: uuid.UUID, device_id: str
) -> None:
    """The referee's device must not be the referrer's, nor one already used by a referral."""
    referrer_device = await session.scalar(
        select(AuthSession.id)
        .where(AuthSession.user_id == referrer_id, AuthSession.device_id == device_id)
        .limit(1)
    )
    reused = await session.scalar(
        select(Referral.id)
        .where(Referral.tenant_id == tenant_id, Referral.device_id == device_id)
        .limit(1)
    )
    if referrer_device is not None or reused is not None:
        raise errors.ReferralDuplicateDevice()


async def _check_cap(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    referrer_id: uuid.UUID,
    rules: EngagementRules,
    now: datetime,
) -> None:
    mine = (Referral.tenant_id == tenant_id) & (Referral.referrer_id == referrer_id)
    recent = await session.scalar(
        select(func.count()).where(mine, Referral.created_at > now - timedelta(days=30))
    )
    total = await session.scalar(select(func.count()).where(mine))
    if (recent or 0) >= rules.referral.max_per_30_days or (total or 0) >= rules.referral.max_total:
        raise errors.ReferralCapReached(
            details={"per_30_days": rules.referral.max_per_30_days, "max": rules.referral.max_total}
        )


async def on_event(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    product: str,
    event_type: str,
    amount: int,
    at: datetime,
) -> Referral | None:
    """Confirm and reward a pending referral when the referee does the qualifying thing."""
    rules = await load_rules(session, tenant_id, product)
    cfg = rules.referral
    if event_type != cfg.qualifying_event or amount < cfg.qualifying_min_amount:
        return None
    row = await session.scalar(
        select(Referral)
        .where(
            Referral.tenant_id == tenant_id,
            Referral.referee_id == user_id,
            or_(Referral.status == "pending", Referral.status == "confirmed"),
        )
        .with_for_update()
    )
    if row is None or at - row.created_at < timedelta(days=cfg.min_days):
        return None
    row.status, row.confirmed_at = "confirmed", at
    for who, amount_coins, xp in (
        (row.referrer_id, cfg.referrer_coins, cfg.referrer_xp),
        (row.referee_id, cfg.referee_coins, cfg.referee_xp),
    ):
        if amount_coins:
            await coins.earn(
                session,
                tenant_id=tenant_id,
                user_id=who,
                amount=amount_coins,
                reason="referral",
                reference=f"referral:{row.id}",
                idempotency_key=f"referral:{row.id}:{who}",
                rules=rules.coins,
                enforce_limits=False,
            )
        if xp:
            await service.award_xp(
                session,
                tenant_id=tenant_id,
                user_id=who,
                product=product,
                amount=xp,
                reason="referral",
                rules=rules,
            )
    row.status, row.rewarded_at = "rewarded", at
    await session.flush()
    await publish(
        session,
        "social.referral.rewarded",
        tenant_id,
        {"referral_id": row.id, "referrer_id": row.referrer_id, "referee_id": user_id},
    )
    return row
