"""Ledger queries, always scoped by tenant (RLS scopes them again in the database)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.ledger.errors import AccountNotFound, HoldNotFound, TransactionNotFound
from ludus.core.ledger.models import Account, Hold, LedgerTransaction, Posting
from ludus.core.ledger.schemas import StatementLine

_SHARD_SUM = text(
    "SELECT coalesce(sum(balance), 0) FROM ledger_balance_shards WHERE account_id = :id"
)


async def get_account(
    session: AsyncSession, tenant_id: uuid.UUID, account_id: uuid.UUID, *, lock: bool = False
) -> Account:
    query = select(Account).where(Account.id == account_id, Account.tenant_id == tenant_id)
    if lock:
        query = query.with_for_update()
    account = (
        await session.execute(query.execution_options(populate_existing=True))
    ).scalar_one_or_none()
    if account is None:
        raise AccountNotFound(details={"account_id": str(account_id)})
    return account


async def posted_balance(session: AsyncSession, account: Account) -> int:
    """The account row's balance plus its shards (hot accounts keep theirs on shards)."""
    if account.shards == 0:
        return account.balance
    shards = await session.scalar(_SHARD_SUM, {"id": account.id})
    return account.balance + int(shards or 0)


async def balance_as_of(
    session: AsyncSession, account_id: uuid.UUID, as_of: datetime
) -> tuple[int, int]:
    posted = await session.scalar(
        select(func.coalesce(func.sum(Posting.amount), 0)).where(
            Posting.account_id == account_id, Posting.created_at <= as_of
        )
    )
    pending = await session.scalar(
        select(func.coalesce(func.sum(Hold.amount), 0)).where(
            Hold.from_account_id == account_id,
            Hold.created_at <= as_of,
            (Hold.resolved_at.is_(None)) | (Hold.resolved_at > as_of),
        )
    )
    return int(posted or 0), int(pending or 0)


async def statement(
    session: AsyncSession, account_id: uuid.UUID, *, offset: int, limit: int
) -> tuple[list[StatementLine], int]:
    total = await session.scalar(
        select(func.count()).select_from(Posting).where(Posting.account_id == account_id)
    )
    rows = await session.execute(
        select(Posting, LedgerTransaction)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(Posting.account_id == account_id)
        .order_by(Posting.created_at.desc(), Posting.id.desc())
        .offset(offset)
        .limit(limit)
    )
    lines = [
        StatementLine(
            posting_id=p.id,
            transaction_id=t.id,
            kind=t.kind,
            idempotency_key=t.idempotency_key,
            amount=p.amount,
            balance_after=p.balance_after,
            shard=p.shard,
            metadata=t.meta,
            created_at=p.created_at,
        )
        for p, t in rows
    ]
    return lines, int(total or 0)


_SUPPLY = text(
    """
    SELECT coalesce(sum(b) FILTER (WHERE b > 0), 0)
    FROM (SELECT a.balance + coalesce((SELECT sum(s.balance) FROM ledger_balance_shards s
                                      WHERE s.account_id = a.id), 0) AS b
          FROM ledger_accounts a WHERE a.tenant_id = :tenant AND a.asset = :asset) x
    """
)


async def total_supply(session: AsyncSession, tenant_id: uuid.UUID, asset: str) -> int:
    return int(await session.scalar(_SUPPLY, {"tenant": tenant_id, "asset": asset}) or 0)


async def get_transaction(
    session: AsyncSession, tenant_id: uuid.UUID, transaction_id: uuid.UUID
) -> LedgerTransaction:
    tx = (
        await session.execute(
            select(LedgerTransaction).where(
                LedgerTransaction.id == transaction_id, LedgerTransaction.tenant_id == tenant_id
            )
        )
    ).scalar_one_or_none()
    if tx is None:
        raise TransactionNotFound(details={"transaction_id": str(transaction_id)})
    return tx


async def reversal_of(
    session: AsyncSession, tenant_id: uuid.UUID, transaction_id: uuid.UUID
) -> LedgerTransaction | None:
    return (
        await session.execute(
            select(LedgerTransaction).where(
                LedgerTransaction.reversal_of == transaction_id,
                LedgerTransaction.tenant_id == tenant_id,
            )
        )
    ).scalar_one_or_none()


async def postings_of(session: AsyncSession, transaction_id: uuid.UUID) -> Sequence[Posting]:
    rows = await session.execute(
        select(Posting).where(Posting.transaction_id == transaction_id).order_by(Posting.id)
    )
    return rows.scalars().all()


async def get_hold(
    session: AsyncSession, tenant_id: uuid.UUID, hold_id: uuid.UUID, *, lock: bool = False
) -> Hold:
    query = select(Hold).where(Hold.id == hold_id, Hold.tenant_id == tenant_id)
    if lock:
        query = query.with_for_update()
    hold = (
        await session.execute(query.execution_options(populate_existing=True))
    ).scalar_one_or_none()
    if hold is None:
        raise HoldNotFound(details={"hold_id": str(hold_id)})
    return hold


async def hold_by_key(session: AsyncSession, tenant_id: uuid.UUID, key: str) -> Hold | None:
    return (
        await session.execute(
            select(Hold)
            .where(Hold.tenant_id == tenant_id, Hold.idempotency_key == key)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


def as_details(**values: Any) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in values.items()}
