"""XP, levels, tiers and streaks of one user in one product (database side)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.auth.models import User
from ludus.core.kit import clock
from ludus.engagement import coins, levels, streaks
from ludus.engagement.leaderboards.service import backend_for, submit_metric
from ludus.engagement.models import Profile, Streak
from ludus.engagement.outbox import publish
from ludus.engagement.rules import EngagementRules, load_rules

_STATE_FIELDS = tuple(streaks.StreakState.__dataclass_fields__)


async def _row(
    session: AsyncSession,
    model: Any,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    product: str,
    defaults: dict[str, Any],
) -> Any:
    """Get-or-create the per-user row, locked for this transaction."""
    await session.execute(
        insert(model)
        .values(id=uuid.uuid4(), tenant_id=tenant_id, user_id=user_id, product=product, **defaults)
        .on_conflict_do_nothing(index_elements=["tenant_id", "user_id", "product"])
    )
    query = (
        select(model)
        .where(model.tenant_id == tenant_id, model.user_id == user_id, model.product == product)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one()


async def profile(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, product: str
) -> Profile:
    row: Profile = await _row(
        session, Profile, tenant_id, user_id, product, {"lifetime_xp": 0, "level": 0, "facts": {}}
    )
    return row


async def _apply_levels(
    session: AsyncSession, row: Profile, rules: EngagementRules, at: datetime
) -> list[int]:
    new_level = levels.level_for(row.lifetime_xp, row.facts, rules.levels)
    gained = levels.levels_gained(row.level, new_level, rules.levels)
    if not gained:
        return []
    row.level = new_level
    for rule in gained:
        await publish(
            session,
            "reward.level.up",
            row.tenant_id,
            {
                "user_id": row.user_id,
                "product": row.product,
                "new_level": rule.level,
                "total_xp": row.lifetime_xp,
            },
        )
        if rule.coins:
            await coins.earn(
                session,
                tenant_id=row.tenant_id,
                user_id=row.user_id,
                amount=rule.coins,
                reason="level_up",
                reference=f"level:{rule.level}",
                idempotency_key=f"level:{row.id}:{rule.level}",
                rules=rules.coins,
                enforce_limits=False,
            )
        row.lifetime_xp += rule.xp_bonus
        from ludus.engagement import referrals  # referrals awards XP through this module

        await referrals.on_event(
            session,
            tenant_id=row.tenant_id,
            user_id=row.user_id,
            product=row.product,
            event_type="level.up",
            amount=rule.level,
            at=at,
        )
    await session.flush()
    return [r.level for r in gained]


async def award_xp(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    product: str,
    amount: int,
    reason: str,
    at: datetime | None = None,
    rules: EngagementRules | None = None,
) -> tuple[Profile, list[int]]:
    """Add XP (never decreases); returns the profile and any levels gained."""
    if amount < 0:
        raise ValueError("XP never decreases")
    at = at or clock.utcnow()
    rules = rules or await load_rules(session, tenant_id, product)
    row = await profile(session, tenant_id, user_id, product)
    row.lifetime_xp += amount
    await session.flush()
    gained = await _apply_levels(session, row, rules, at)
    if amount:
        await submit_metric(
            backend_for(session),
            tenant_id=tenant_id,
            metric="xp",
            member_id=user_id,
            value=amount,
            at=at,
            mode="add",
        )
    return row, gained


async def update_facts(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    product: str,
    facts: dict[str, Any],
    rules: EngagementRules | None = None,
) -> list[int]:
    """Record facts a level condition reads (net worth, CHI, ...) and re-check the level."""
    rules = rules or await load_rules(session, tenant_id, product)
    row = await profile(session, tenant_id, user_id, product)
    row.facts = {**row.facts, **facts}
    await session.flush()
    return await _apply_levels(session, row, rules, clock.utcnow())


def achievements(row: Profile, rules: EngagementRules) -> dict[str, Any]:
    tier = levels.tier_for(row.lifetime_xp, rules.tiers)
    return {
        "current_tier": tier.current.name,
        "tier_level": tier.current.tier,
        "lifetime_xp": row.lifetime_xp,
        "level": row.level,
        "tier_progress": tier.progress_pct,
        "next_tier": tier.next.name if tier.next else None,
        "next_tier_xp": tier.next.xp if tier.next else None,
        "perks": tier.current.perks,
        "coin_bonus_pct": tier.current.coin_bonus_pct,
    }


# --- streaks -------------------------------------------------------------------------


async def _user_timezone(session: AsyncSession, user_id: uuid.UUID) -> str:
    tz = await session.scalar(select(User.timezone).where(User.id == user_id))
    return tz or "UTC"


async def _streak(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, product: str
) -> tuple[Streak, streaks.StreakState]:
    tz = await _user_timezone(session, user_id)
    row: Streak = await _row(
        session,
        Streak,
        tenant_id,
        user_id,
        product,
        {"timezone": tz, "current": 0, "longest": 0, "broken_length": 0},
    )
    state = streaks.StreakState(**{f: getattr(row, f) for f in _STATE_FIELDS})
    state.timezone = tz
    return row, state


def _save(row: Streak, state: streaks.StreakState) -> None:
    for name, value in asdict(state).items():
        setattr(row, name, value)


async def _broken(session: AsyncSession, row: Streak, length: int) -> None:
    await publish(
        session,
        "streak.broken",
        row.tenant_id,
        {"user_id": row.user_id, "product": row.product, "streak_length": length},
    )


@dataclass(frozen=True)
class StreakView:
    current: int
    longest: int
    multiplier: Decimal
    last_action_date: Any
    deadline: datetime | None
    grace_until: datetime | None
    broken_length: int
    insurable_until: datetime | None


def view(row: Streak, rules: EngagementRules, now: datetime) -> StreakView:
    state = streaks.StreakState(**{f: getattr(row, f) for f in _STATE_FIELDS})
    streaks.settle(state, now)
    insurable = None
    if state.broken_at is not None and state.broken_length:
        from datetime import timedelta

        end = state.broken_at + timedelta(hours=rules.streak.insurance_window_hours)
        insurable = end if end >= now else None
    return StreakView(
        current=state.current,
        longest=state.longest,
        multiplier=streaks.multiplier_for(state.current, rules.streak),
        last_action_date=state.last_period,
        deadline=state.deadline if state.current else None,
        grace_until=state.shield_until if state.current else None,
        broken_length=state.broken_length,
        insurable_until=insurable,
    )


async def get_streak(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, product: str
) -> StreakView:
    rules = await load_rules(session, tenant_id, product)
    row, _ = await _streak(session, tenant_id, user_id, product)
    return view(row, rules, clock.utcnow())


async def record_streak_action(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    product: str,
    at: datetime,
    rules: EngagementRules | None = None,
) -> streaks.Outcome:
    rules = rules or await load_rules(session, tenant_id, product)
    row, state = await _streak(session, tenant_id, user_id, product)
    outcome = streaks.record(state, at, rules.streak)
    _save(row, state)
    await session.flush()
    if outcome.broken:
        await _broken(session, row, outcome.broken)
    if outcome.milestone:
        await _milestone(session, row, outcome.milestone, rules)
    return outcome


async def _milestone(session: AsyncSession, row: Streak, days: int, rules: EngagementRules) -> None:
    milestone = next(m for m in rules.streak.milestones if m.days == days)
    await publish(
        session,
        "streak.milestone",
        row.tenant_id,
        {"user_id": row.user_id, "product": row.product, "days": days},
    )
    key = f"streak:{row.id}:{row.last_period}:{days}"
    if milestone.coins:
        await coins.earn(
            session,
            tenant_id=row.tenant_id,
            user_id=row.user_id,
            amount=milestone.coins,
            reason="streak_milestone",
            reference=f"streak:{days}",
            idempotency_key=key,
            rules=rules.coins,
            enforce_limits=False,
        )
    if milestone.xp:
        await award_xp(
            session,
            tenant_id=row.tenant_id,
            user_id=row.user_id,
            product=row.product,
            amount=milestone.xp,
            reason="streak_milestone",
            rules=rules,
        )


async def activate_shield(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, product: str
) -> dict[str, Any]:
    rules = await load_rules(session, tenant_id, product)
    now = clock.utcnow()
    row, state = await _streak(session, tenant_id, user_id, product)
    until = streaks.activate_shield(state, now, rules.streak)
    await coins.spend(
        session,
        tenant_id=tenant_id,
        user_id=user_id,
        amount=rules.streak.shield_cost,
        reason="streak_shield",
        reference=f"streak:{row.id}",
        idempotency_key=f"shield:{row.id}:{now.isoformat()}",
        asset=rules.coins.asset,
    )
    _save(row, state)
    await session.flush()
    return {"activated": True, "coins_deducted": rules.streak.shield_cost, "grace_until": until}


async def purchase_insurance(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, product: str
) -> dict[str, Any]:
    rules = await load_rules(session, tenant_id, product)
    now = clock.utcnow()
    row, state = await _streak(session, tenant_id, user_id, product)
    newly_broken = streaks.settle(state, now)
    restored = streaks.restore(state, now, rules.streak)
    await coins.spend(
        session,
        tenant_id=tenant_id,
        user_id=user_id,
        amount=rules.streak.insurance_cost,
        reason="streak_insurance",
        reference=f"streak:{row.id}",
        idempotency_key=f"insurance:{row.id}:{now.isoformat()}",
        asset=rules.coins.asset,
    )
    _save(row, state)
    await session.flush()
    if newly_broken:
        await _broken(session, row, newly_broken)
    return {
        "purchased": True,
        "coins_deducted": rules.streak.insurance_cost,
        "streak_restored": True,
        "current": restored,
    }


async def sweep_streaks(
    session: AsyncSession, now: datetime | None = None, limit: int = 500
) -> int:
    """Periodic: mark streaks whose deadline passed as broken and emit `streak.broken`."""
    now = now or clock.utcnow()
    rows = (
        (
            await session.execute(
                select(Streak)
                .where(Streak.current > 0, Streak.deadline <= now)
                .order_by(Streak.deadline)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for row in rows:
        state = streaks.StreakState(**{f: getattr(row, f) for f in _STATE_FIELDS})
        length = streaks.settle(state, now)
        _save(row, state)
        if length:
            await _broken(session, row, length)
    await session.flush()
    return len(rows)


async def earn_coins(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    product: str,
    base: int,
    reason: str,
    reference: str | None,
    idempotency_key: str,
) -> coins.Movement:
    """Earn for an activity: base × streak multiplier × (1 + tier bonus), half-even rounded,
    subject to the daily cap and velocity check."""
    rules = await load_rules(session, tenant_id, product)
    row = await profile(session, tenant_id, user_id, product)
    streak_row, _ = await _streak(session, tenant_id, user_id, product)
    current = view(streak_row, rules, clock.utcnow()).current
    bonus = levels.tier_for(row.lifetime_xp, rules.tiers).current.coin_bonus_pct
    amount = Decimal(base) * streaks.multiplier_for(current, rules.streak) * (100 + bonus) / 100
    return await coins.earn(
        session,
        tenant_id=tenant_id,
        user_id=user_id,
        amount=int(amount.quantize(Decimal(1), ROUND_HALF_EVEN)),
        reason=reason,
        reference=reference,
        idempotency_key=idempotency_key,
        rules=rules.coins,
    )
