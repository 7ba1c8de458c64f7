"""Coins and points on the ledger.

Each user has a wallet account per asset; each tenant has a rewards pool (a system account
allowed to go negative, i.e. the issuer). Earning moves pool → wallet, spending moves
wallet → pool, and redemptions hold wallet → pool until fulfilment. Every ledger
transaction carries `reason` and `reference` in its metadata, so the user's history
(spec 000 coin_ledger: amount, balance_after, reason, reference) is the wallet statement.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.core.ledger import service as ledger
from ludus.core.ledger.errors import InsufficientFunds
from ludus.core.ledger.models import Account, OwnerType, Purpose
from ludus.engagement import errors
from ludus.engagement.outbox import publish
from ludus.engagement.rules import CoinRules

_COUNTER = text(
    "INSERT INTO engagement_earn_counters AS c "
    "(tenant_id, user_id, asset, bucket, bucket_start, amount, count) "
    "VALUES (:t, :u, :a, :bucket, :start, :amount, 1) "
    "ON CONFLICT (user_id, asset, bucket, bucket_start) DO UPDATE "
    "SET amount = c.amount + excluded.amount, count = c.count + 1 "
    "WHERE (:cap_amount = 0 OR c.amount + excluded.amount <= :cap_amount) "
    "AND (:cap_count = 0 OR c.count + 1 <= :cap_count) RETURNING c.amount"
)


async def _existing(
    session: AsyncSession, tenant_id: uuid.UUID, asset: str, purpose: str, owner: uuid.UUID | None
) -> Account | None:
    owner_type = OwnerType.system if owner is None else OwnerType.user
    """One query for the common case (the account exists) before the open-or-create path."""
    query = select(Account).where(
        Account.tenant_id == tenant_id,
        Account.asset == asset,
        Account.purpose == purpose,
        Account.owner_type == owner_type,
        Account.owner_id.is_(None) if owner is None else Account.owner_id == owner,
    )
    return (await session.execute(query)).scalars().first()


async def wallet(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, asset: str = "COIN"
) -> Account:
    found = await _existing(session, tenant_id, asset, Purpose.wallet, user_id)
    if found is not None:
        return found
    await ledger.ensure_asset(session, tenant_id=tenant_id, code=asset, scale=0)
    return await ledger.open_account(
        session,
        tenant_id=tenant_id,
        asset=asset,
        purpose=Purpose.wallet,
        owner_type=OwnerType.user,
        owner_id=user_id,
    )


async def pool(session: AsyncSession, tenant_id: uuid.UUID, asset: str = "COIN") -> Account:
    found = await _existing(session, tenant_id, asset, Purpose.rewards_pool, None)
    if found is not None:
        return found
    await ledger.ensure_asset(session, tenant_id=tenant_id, code=asset, scale=0)
    return await ledger.open_account(
        session,
        tenant_id=tenant_id,
        asset=asset,
        purpose=Purpose.rewards_pool,
        owner_type=OwnerType.system,
        allow_negative=True,
        name=f"{asset} rewards pool",
    )


def _meta(reason: str, reference: str | None, user_id: uuid.UUID, **extra: Any) -> dict[str, Any]:
    return {"reason": reason, "reference": reference, "user_id": str(user_id), **extra}


async def _count(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    asset: str,
    amount: int,
    rules: CoinRules,
    now: datetime,
) -> None:
    minute = now.replace(second=0, microsecond=0)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    base = {"t": tenant_id, "u": user_id, "a": asset, "amount": amount}
    if rules.daily_cap and amount > rules.daily_cap:
        raise errors.DailyCapReached(details={"cap": rules.daily_cap})
    fresh = await session.scalar(
        _COUNTER,
        {**base, "bucket": "day", "start": day, "cap_amount": rules.daily_cap, "cap_count": 0},
    )
    if fresh is None:
        raise errors.DailyCapReached(
            details={"cap": rules.daily_cap, "resets_at": (day + timedelta(days=1)).isoformat()}
        )
    fresh = await session.scalar(
        _COUNTER,
        {
            **base,
            "bucket": "minute",
            "start": minute,
            "cap_amount": 0,
            "cap_count": rules.per_minute,
        },
    )
    if fresh is None:
        raise errors.VelocityExceeded(details={"per_minute": rules.per_minute})


@dataclass(frozen=True)
class Movement:
    transaction_id: uuid.UUID
    amount: int
    replayed: bool


async def earn(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    amount: int,
    reason: str,
    reference: str | None,
    idempotency_key: str,
    rules: CoinRules | None = None,
    enforce_limits: bool = True,
) -> Movement:
    """Credit coins (or points: `rules.asset`); caps and velocity apply unless told not to.
    A refused earning changes nothing (it runs in a savepoint)."""
    rules = rules or CoinRules()
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise errors.InvalidAmount(details={"amount": amount})
    async with session.begin_nested():
        source = await pool(session, tenant_id, rules.asset)
        target = await wallet(session, tenant_id, user_id, rules.asset)
        tx = await ledger.move(
            session,
            tenant_id=tenant_id,
            idempotency_key=f"earn:{idempotency_key}",
            kind="reward.earn",
            from_account=source.id,
            to_account=target.id,
            amount=amount,
            metadata=_meta(reason, reference, user_id),
        )
        replayed = bool(getattr(tx, "replayed", False))
        if not replayed and enforce_limits:
            await _count(session, tenant_id, user_id, rules.asset, amount, rules, clock.utcnow())
    if not replayed:
        await publish(
            session,
            "reward.coins.earned",
            tenant_id,
            {"user_id": user_id, "amount": amount, "asset": rules.asset, "reason": reason},
        )
    return Movement(tx.id, amount, replayed)


async def spend(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    amount: int,
    reason: str,
    reference: str | None,
    idempotency_key: str,
    asset: str = "COIN",
) -> Movement:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise errors.InvalidAmount(details={"amount": amount})
    source = await wallet(session, tenant_id, user_id, asset)
    target = await pool(session, tenant_id, asset)
    try:
        tx = await ledger.move(
            session,
            tenant_id=tenant_id,
            idempotency_key=f"spend:{idempotency_key}",
            kind="reward.spend",
            from_account=source.id,
            to_account=target.id,
            amount=amount,
            metadata=_meta(reason, reference, user_id),
        )
    except InsufficientFunds as exc:
        available = await balance(session, tenant_id, user_id, asset)
        raise errors.InsufficientCoins(details={"needed": amount, "available": available}) from exc
    return Movement(tx.id, amount, bool(getattr(tx, "replayed", False)))


async def balance(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, asset: str = "COIN"
) -> int:
    """Available coins: posted minus what pending redemptions hold."""
    account = await wallet(session, tenant_id, user_id, asset)
    return (await ledger.get_balance(session, tenant_id=tenant_id, account_id=account.id)).available


async def history(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    asset: str = "COIN",
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    account = await wallet(session, tenant_id, user_id, asset)
    lines, total = await ledger.statement(
        session, tenant_id=tenant_id, account_id=account.id, offset=offset, limit=limit
    )
    rows = [
        {
            "id": line.transaction_id,
            "amount": line.amount,
            "balance_after": line.balance_after,
            "reason": line.metadata.get("reason") or line.kind,
            "reference_id": line.metadata.get("reference"),
            "created_at": line.created_at,
        }
        for line in lines
    ]
    return rows, total
