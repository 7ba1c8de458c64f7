"""Ledger test data: a tenant with USD and COIN, a sharded reserve and funded wallets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit.db import Database
from ludus.core.ledger import service as ledger
from ludus.core.ledger.models import Account, BalanceShard, LedgerTransaction, Posting
from tests.factories import make_tenant


@dataclass
class World:
    tenant_id: uuid.UUID
    reserve: uuid.UUID  # system, may go negative, sharded (hot)
    coin_reserve: uuid.UUID
    wallets: list[uuid.UUID]  # USD wallets, funded
    coin_wallet: uuid.UUID


async def build_world(
    session: AsyncSession, tenant_id: uuid.UUID, *, wallets: int = 3, funds: int = 10_000
) -> World:
    await ledger.ensure_asset(session, tenant_id=tenant_id, code="USD", scale=2)
    await ledger.ensure_asset(session, tenant_id=tenant_id, code="COIN", scale=0)
    reserve = await ledger.open_account(
        session,
        tenant_id=tenant_id,
        asset="USD",
        purpose="reserve",
        owner_type="system",
        allow_negative=True,
    )
    coin_reserve = await ledger.open_account(
        session,
        tenant_id=tenant_id,
        asset="COIN",
        purpose="reserve",
        owner_type="system",
        allow_negative=True,
    )
    ids = []
    for _ in range(wallets):
        account = await ledger.open_account(
            session,
            tenant_id=tenant_id,
            asset="USD",
            purpose="wallet",
            owner_type="user",
            owner_id=uuid.uuid4(),
        )
        ids.append(account.id)
    coin_wallet = await ledger.open_account(
        session,
        tenant_id=tenant_id,
        asset="COIN",
        purpose="wallet",
        owner_type="user",
        owner_id=uuid.uuid4(),
    )
    if funds:
        await ledger.transfer(
            session,
            tenant_id=tenant_id,
            idempotency_key=f"fund-{uuid.uuid4()}",
            kind="fund",
            entries=[(reserve.id, -funds * len(ids)), *((w, funds) for w in ids)],
        )
    return World(tenant_id, reserve.id, coin_reserve.id, ids, coin_wallet.id)


async def committed_world(db: Database, **kwargs: int) -> World:
    tenant = await make_tenant(db)
    async with db.session(tenant_id=tenant.id) as session:
        return await build_world(session, tenant.id, **kwargs)


async def posted(session: AsyncSession, world: World, account_id: uuid.UUID) -> int:
    balance = await ledger.get_balance(session, tenant_id=world.tenant_id, account_id=account_id)
    return balance.posted


async def tx_count(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.tenant_id == tenant_id)
        )
        or 0
    )


async def snapshot(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, object]:
    """Everything a refused operation must leave unchanged."""
    accounts = (
        await session.execute(
            select(
                Account.id, Account.balance, Account.pending_out, Account.status, Account.version
            )
            .where(Account.tenant_id == tenant_id)
            .order_by(Account.id)
        )
    ).all()
    shards = (
        await session.execute(
            select(BalanceShard.account_id, BalanceShard.shard, BalanceShard.balance)
            .where(BalanceShard.tenant_id == tenant_id)
            .order_by(BalanceShard.account_id, BalanceShard.shard)
        )
    ).all()
    postings = await session.scalar(
        select(func.count()).select_from(Posting).where(Posting.tenant_id == tenant_id)
    )
    return {
        "accounts": [tuple(a) for a in accounts],
        "shards": [tuple(s) for s in shards],
        "postings": postings,
        "transactions": await tx_count(session, tenant_id),
    }


def key() -> str:
    """A fresh ledger idempotency key."""
    return uuid.uuid4().hex
