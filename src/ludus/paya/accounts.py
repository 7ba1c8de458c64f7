"""PaYa's ledger accounts per tenant, and the tenant rules.

reserve   system, may go negative (sharded hot account): mirrors the FBO bank account.
          Tokens are minted against it, so tokens in circulation == -reserve balance.
revenue   revenue received and not yet distributed (the weekly rewards pool).
ops       the operator's allocation from each distribution; admin adjustments come from
          and go to it, so an adjustment never mints unbacked tokens.
clearing  redeems waiting for the ACH push to start.
wallet    one per member.
incoming  only for members named in `hot_recipients` (busy merchants): P2P payments to them
          land here, a sharded account, so concurrent payers never queue on one wallet
          row. A member's balance is wallet + incoming; what arrived is swept into the
          wallet when the wallet alone cannot cover a debit.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.ledger import service as ledger
from ludus.core.ledger.errors import InsufficientFunds
from ludus.core.ledger.models import Account
from ludus.core.tenancy.models import Product, Tenant, TenantKind
from ludus.paya.config import ASSET, PayaConfig, tenant_config


@dataclass(frozen=True)
class TenantAccounts:
    reserve: uuid.UUID
    revenue: uuid.UUID
    ops: uuid.UUID
    clearing: uuid.UUID


TENANT_PURPOSES = ("reserve", "revenue", "ops", "clearing")
INCOMING = "incoming"
INCOMING_SHARDS = 16
T = TypeVar("T")
_incoming: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID] = {}
_accounts: dict[uuid.UUID, TenantAccounts] = {}
_configs: dict[uuid.UUID, tuple[float, PayaConfig, bool]] = {}
CONFIG_TTL_SECONDS = 2.0
_LOCK_PROFILE = text(
    "SELECT 1 FROM paya_profiles WHERE tenant_id = :tenant AND user_id = :user FOR UPDATE"
)


async def tenant_accounts(session: AsyncSession, tenant_id: uuid.UUID) -> TenantAccounts:
    """The tenant's PaYa accounts, opened on first use (opening is idempotent)."""
    cached = _accounts.get(tenant_id)
    if cached is not None:
        return cached
    rows = await session.execute(
        select(Account.purpose, Account.id).where(
            Account.tenant_id == tenant_id,
            Account.asset == ASSET,
            Account.owner_id.is_(None),
            Account.purpose.in_(TENANT_PURPOSES),
        )
    )
    found = {row[0]: row[1] for row in rows}
    if len(found) == len(TENANT_PURPOSES):
        # Only accounts already committed are cached: a rolled-back opening leaves no trace.
        _accounts[tenant_id] = TenantAccounts(**found)
        return _accounts[tenant_id]
    await ledger.ensure_asset(session, tenant_id=tenant_id, code=ASSET, scale=0)

    async def open_(purpose: str, owner_type: str, allow_negative: bool = False) -> uuid.UUID:
        account = await ledger.open_account(
            session,
            tenant_id=tenant_id,
            asset=ASSET,
            purpose=purpose,
            owner_type=owner_type,
            allow_negative=allow_negative,
            name=f"PaYa {purpose}",
        )
        return account.id

    return TenantAccounts(
        reserve=await open_("reserve", "system", allow_negative=True),
        revenue=await open_("revenue", "tenant"),
        ops=await open_("ops", "tenant"),
        clearing=await open_("clearing", "tenant"),
    )


async def open_wallet(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> uuid.UUID:
    await tenant_accounts(session, tenant_id)
    account = await ledger.open_account(
        session,
        tenant_id=tenant_id,
        asset=ASSET,
        purpose="wallet",
        owner_type="user",
        owner_id=user_id,
        name="PaYa wallet",
    )
    return account.id


async def balance(session: AsyncSession, tenant_id: uuid.UUID, account_id: uuid.UUID) -> int:
    return (await ledger.get_balance(session, tenant_id=tenant_id, account_id=account_id)).posted


async def incoming_account(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, *, create: bool = False
) -> uuid.UUID | None:
    """The member's sharded incoming account (opened on the first payment to a hot
    recipient); None if the member never had one and `create` is false."""
    cached = _incoming.get((tenant_id, user_id))
    if cached is not None:
        return cached
    found = await session.scalar(
        select(Account.id).where(
            Account.tenant_id == tenant_id,
            Account.owner_type == "user",
            Account.owner_id == user_id,
            Account.asset == ASSET,
            Account.purpose == INCOMING,
        )
    )
    if found is not None:  # only committed accounts are cached, as for the tenant accounts
        _incoming[(tenant_id, user_id)] = found
        return found
    if not create:
        return None
    account = await ledger.open_account(
        session,
        tenant_id=tenant_id,
        asset=ASSET,
        purpose=INCOMING,
        owner_type="user",
        owner_id=user_id,
        allow_negative=True,  # only credits and sweeps of the summed balance touch it
        shards=INCOMING_SHARDS,
        name="PaYa incoming",
    )
    return account.id


async def member_balance(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, wallet: uuid.UUID
) -> int:
    """Spendable tokens: the wallet plus anything waiting in the incoming account."""
    total = await balance(session, tenant_id, wallet)
    incoming = await incoming_account(session, tenant_id, user_id)
    return total + (await balance(session, tenant_id, incoming) if incoming else 0)


async def sweep_incoming(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, wallet: uuid.UUID
) -> int:
    """Move everything in the member's incoming account into the wallet; returns the amount.

    The member's profile row is locked first, so two sweeps never move the same tokens;
    payments arriving meanwhile only add to the shards, so the account never ends below 0.
    """
    incoming = await incoming_account(session, tenant_id, user_id)
    if incoming is None:
        return 0
    await session.execute(_LOCK_PROFILE, {"tenant": tenant_id, "user": user_id})
    amount = await balance(session, tenant_id, incoming)
    if amount <= 0:
        return 0
    await ledger.move(
        session,
        tenant_id=tenant_id,
        idempotency_key=f"paya:sweep:{incoming}:{uuid.uuid4().hex}",
        kind="paya.sweep",
        from_account=incoming,
        to_account=wallet,
        amount=amount,
    )
    return amount


async def debit(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    wallet: uuid.UUID,
    op: Callable[[], Awaitable[T]],
) -> T:
    """Run a ledger debit of the wallet; if the wallet alone is short, sweep the incoming
    account into it and try once more (a refused ledger call changes nothing)."""
    try:
        return await op()
    except InsufficientFunds:
        if not await sweep_incoming(session, tenant_id, user_id, wallet):
            raise
    return await op()


async def _settings(session: AsyncSession, tenant_id: uuid.UUID) -> tuple[float, PayaConfig, bool]:
    now = time.monotonic()
    cached = _configs.get(tenant_id)
    if cached is not None and cached[0] > now:
        return cached
    row = (
        await session.execute(
            select(Tenant.config, Tenant.products, Tenant.kind).where(Tenant.id == tenant_id)
        )
    ).one_or_none()
    enabled = row is not None and (
        Product.paya.value in (row.products or []) or row.kind == TenantKind.payment_network
    )
    entry = (now + CONFIG_TTL_SECONDS, tenant_config(row.config if row else None), enabled)
    _configs[tenant_id] = entry
    return entry


async def rules(session: AsyncSession, tenant_id: uuid.UUID) -> PayaConfig:
    """The tenant's PaYa rules (cached for a couple of seconds per process)."""
    return (await _settings(session, tenant_id))[1]


async def enabled(session: AsyncSession, tenant_id: uuid.UUID) -> bool:
    """PaYa runs for tenants of kind payment_network or with the paya product."""
    return (await _settings(session, tenant_id))[2]


def forget_rules(tenant_id: uuid.UUID | None = None) -> None:
    if tenant_id is None:
        _configs.clear()
    else:
        _configs.pop(tenant_id, None)
