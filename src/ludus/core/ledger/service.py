"""Ledger service: the one way products move value (double entry, append-only).

Design (details and figures in docs/ledger.md):

* Every movement is a transaction of two or more postings that sum to zero per asset; each
  posting records the balance after it. Nothing is updated or deleted: reversals are new
  transactions that reference the original. A DEFERRABLE constraint trigger re-checks the
  per-asset sum at commit; CHECK constraints keep non-negative accounts at or above zero.
* A transfer is ONE round trip: the SQL function `ledger_transfer` checks the idempotency
  key, locks the ordinary accounts in id order (SELECT ... FOR UPDATE), checks status,
  assets, balance and funds, and only then inserts the transaction and postings and updates
  balances. A refusal therefore writes nothing and leaves the caller's transaction usable.
* Hot accounts: accounts allowed to go negative that are owned by the system (reserves,
  rewards pools, fees, revenue) are sharded by default: their balance is spread over
  `shards` rows in `ledger_balance_shards`. A transfer never waits on them: it takes the
  first free shard (FOR UPDATE SKIP LOCKED), applies `balance = balance + delta` there, and
  does so after every ordinary account, so the lock order stays total (ordinary by id, then
  hot by id) and deadlock-free. The account's balance is the sum of its shards, and each
  posting's `balance_after`/`seq` chain is kept per shard.
* Deadlocks and serialization failures are retried inside (see `transfer.run_atomic`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit.errors import ValidationFailed
from ludus.core.ledger import repository as repo
from ludus.core.ledger.errors import (
    AccountClosed,
    AccountNotEmpty,
    AlreadyReversed,
    AssetNotFound,
    AssetScaleConflict,
    InvalidAmount,
)
from ludus.core.ledger.holds import expire_due_holds, hold, post_hold, void_hold
from ludus.core.ledger.models import (
    Account,
    AccountStatus,
    Asset,
    BalanceShard,
    LedgerTransaction,
    OwnerType,
)
from ludus.core.ledger.schemas import Balance, StatementLine
from ludus.core.ledger.transfer import (
    call_transfer,
    check_amount,
    check_entries,
    check_key,
    digest,
    ensure_balanced,
    run_atomic,
)
from ludus.core.ledger.verify import VerifyReport, verify

__all__ = [
    "VerifyReport",
    "close_account",
    "ensure_asset",
    "ensure_balanced",
    "expire_due_holds",
    "freeze_account",
    "get_balance",
    "hold",
    "move",
    "open_account",
    "post_hold",
    "reverse",
    "statement",
    "total_supply",
    "transfer",
    "unfreeze_account",
    "verify",
    "void_hold",
]

DEFAULT_HOT_SHARDS = 16
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,15}$")
_PURPOSE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


async def ensure_asset(
    session: AsyncSession, *, tenant_id: uuid.UUID, code: str, scale: int
) -> Asset:
    """Define an asset for the tenant (idempotent; the scale cannot change later)."""
    if not _CODE.match(code) or not 0 <= scale <= 18:
        raise ValidationFailed("Asset codes are 2-16 upper-case letters/digits; scale 0-18.")
    stmt = (
        insert(Asset)
        .values(id=uuid.uuid4(), tenant_id=tenant_id, code=code, scale=scale)
        .on_conflict_do_nothing(index_elements=["tenant_id", "code"])
    )
    await session.execute(stmt)
    asset = (
        await session.execute(select(Asset).where(Asset.tenant_id == tenant_id, Asset.code == code))
    ).scalar_one()
    if asset.scale != scale:
        raise AssetScaleConflict(details={"code": code, "scale": asset.scale})
    return asset


async def open_account(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    asset: str,
    purpose: str,
    owner_type: str,
    owner_id: uuid.UUID | None = None,
    allow_negative: bool = False,
    name: str | None = None,
    shards: int | None = None,
) -> Account:
    """Open (or return the existing) account for tenant + owner + asset + purpose.

    `shards` defaults to 16 for system accounts allowed to go negative (hot accounts) and 0
    otherwise; only accounts allowed to go negative may be sharded.
    """
    if owner_type not in OwnerType.__members__ or not _PURPOSE.match(purpose):
        raise ValidationFailed("Unknown owner type or malformed purpose.")
    if shards is None:
        shards = DEFAULT_HOT_SHARDS if allow_negative and owner_type == OwnerType.system else 0
    if shards and (not allow_negative or not 0 < shards <= 64):
        raise ValidationFailed("Only accounts allowed to go negative take 1-64 shards.")
    found = await session.scalar(
        select(Asset.id).where(Asset.tenant_id == tenant_id, Asset.code == asset)
    )
    if found is None:
        raise AssetNotFound(details={"asset": asset})

    async def op() -> Account:
        account_id = uuid.uuid4()
        created = (
            await session.execute(
                insert(Account)
                .values(
                    id=account_id,
                    tenant_id=tenant_id,
                    asset=asset,
                    owner_type=owner_type,
                    owner_id=owner_id,
                    purpose=purpose,
                    name=name,
                    allow_negative=allow_negative,
                    status=AccountStatus.active,
                    shards=shards,
                )
                .on_conflict_do_nothing()
                .returning(Account.id)
            )
        ).scalar_one_or_none()
        if created is not None and shards:
            await session.execute(
                insert(BalanceShard),
                [
                    {"account_id": account_id, "shard": i, "tenant_id": tenant_id}
                    for i in range(shards)
                ],
            )
        query = select(Account).where(
            Account.tenant_id == tenant_id,
            Account.owner_type == owner_type,
            Account.owner_id.is_(None) if owner_id is None else Account.owner_id == owner_id,
            Account.asset == asset,
            Account.purpose == purpose,
        )
        return (await session.execute(query)).scalar_one()

    return await run_atomic(session, op)


async def transfer(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    idempotency_key: str,
    kind: str,
    entries: Sequence[tuple[uuid.UUID, int]],
    metadata: dict[str, Any] | None = None,
) -> LedgerTransaction:
    """Post a balanced transaction; `entries` are (account_id, signed amount) pairs.

    The same key with the same content returns the first transaction (`replayed=True`).
    """
    check_key(idempotency_key, "idempotency_key", 255)
    check_key(kind, "kind", 64)
    checked = check_entries(entries)

    async def op() -> LedgerTransaction:
        return await call_transfer(
            session,
            tenant_id=tenant_id,
            idempotency_key=idempotency_key,
            kind=kind,
            entries=checked,
            metadata=metadata,
            request_hash=digest(kind, checked),
        )

    return await run_atomic(session, op, savepoint=False)


async def move(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    idempotency_key: str,
    kind: str,
    from_account: uuid.UUID,
    to_account: uuid.UUID,
    amount: int,
    metadata: dict[str, Any] | None = None,
) -> LedgerTransaction:
    """Move a positive `amount` from one account to another of the same asset."""
    check_amount(amount)
    if from_account == to_account:
        raise InvalidAmount("A move needs two different accounts.")
    return await transfer(
        session,
        tenant_id=tenant_id,
        idempotency_key=idempotency_key,
        kind=kind,
        entries=[(from_account, -amount), (to_account, amount)],
        metadata=metadata,
    )


async def reverse(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    transaction_id: uuid.UUID,
    idempotency_key: str,
    reason: str,
) -> LedgerTransaction:
    """Post the mirror image of a transaction; each transaction can be reversed once."""
    check_key(idempotency_key, "idempotency_key", 255)

    async def op() -> LedgerTransaction:
        original = await repo.get_transaction(session, tenant_id, transaction_id)
        earlier = await repo.reversal_of(session, tenant_id, transaction_id)
        if earlier is not None:
            if earlier.idempotency_key == idempotency_key:
                earlier.replayed = True
                return earlier
            raise AlreadyReversed(details=repo.as_details(transaction_id=transaction_id))
        entries = [(p.account_id, -p.amount) for p in await repo.postings_of(session, original.id)]
        return await call_transfer(
            session,
            tenant_id=tenant_id,
            idempotency_key=idempotency_key,
            kind="reversal",
            entries=entries,
            metadata={"reason": reason, "reversal_of": str(original.id), "kind": original.kind},
            request_hash=digest("reversal", entries, original.id),
            reversal_of=original.id,
        )

    return await run_atomic(session, op)


async def get_balance(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    as_of: datetime | None = None,
) -> Balance:
    """Posted, pending (reserved by holds) and available balance, now or as of a past time."""
    account = await repo.get_account(session, tenant_id, account_id)
    if as_of is None:
        posted = await repo.posted_balance(session, account)
        pending = account.pending_out
    else:
        posted, pending = await repo.balance_as_of(session, account.id, as_of)
    return Balance(
        account_id=account.id,
        asset=account.asset,
        posted=posted,
        pending_out=pending,
        available=posted - pending,
        as_of=as_of,
    )


async def statement(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[StatementLine], int]:
    """Postings of an account, newest first, with the total count."""
    await repo.get_account(session, tenant_id, account_id)
    return await repo.statement(session, account_id, offset=offset, limit=limit)


async def total_supply(session: AsyncSession, *, tenant_id: uuid.UUID, asset: str) -> int:
    """Units in circulation: the sum of positive balances (= minus the negative ones)."""
    return await repo.total_supply(session, tenant_id, asset)


async def _set_status(
    session: AsyncSession, tenant_id: uuid.UUID, account_id: uuid.UUID, status: AccountStatus
) -> Account:
    async def op() -> Account:
        account = await repo.get_account(session, tenant_id, account_id, lock=True)
        if account.status == AccountStatus.closed:
            raise AccountClosed(details=repo.as_details(account_id=account_id))
        if status == AccountStatus.closed and (
            await repo.posted_balance(session, account) != 0 or account.pending_out != 0
        ):
            raise AccountNotEmpty(details=repo.as_details(account_id=account_id))
        await session.execute(
            sa_update(Account)
            .where(Account.id == account_id)
            .values(status=status)
            .execution_options(synchronize_session=False)
        )
        return await repo.get_account(session, tenant_id, account_id)

    return await run_atomic(session, op)


async def freeze_account(
    session: AsyncSession, *, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> Account:
    return await _set_status(session, tenant_id, account_id, AccountStatus.frozen)


async def unfreeze_account(
    session: AsyncSession, *, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> Account:
    return await _set_status(session, tenant_id, account_id, AccountStatus.active)


async def close_account(
    session: AsyncSession, *, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> Account:
    """Close an empty account for good (no balance, no pending holds)."""
    return await _set_status(session, tenant_id, account_id, AccountStatus.closed)
