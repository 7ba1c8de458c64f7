"""The org's ledger accounts, opened on first use.

Design: a verified deposit is ONE ledger transaction from the org's M-Pesa clearing account
(allowed to go negative: it mirrors money held at Safaricom) to the member's savings
account. The org pool is the aggregate of its members' savings accounts, so it needs no
second posting. Unmatched money goes to the org's suspense account; matching moves it on.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.ledger import service as ledger

ASSET = "KES"
SCALE = 2


async def open_org_accounts(
    session: AsyncSession, tenant_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID]:
    """(clearing, suspense) account ids for a new org."""
    await ledger.ensure_asset(session, tenant_id=tenant_id, code=ASSET, scale=SCALE)
    clearing = await ledger.open_account(
        session,
        tenant_id=tenant_id,
        asset=ASSET,
        purpose="mpesa_clearing",
        owner_type="system",  # hot: every deposit debits it, so the ledger shards it
        allow_negative=True,
        name="M-Pesa clearing",
    )
    suspense = await ledger.open_account(
        session,
        tenant_id=tenant_id,
        asset=ASSET,
        purpose="mpesa_suspense",
        owner_type="tenant",
        owner_id=tenant_id,
        name="Unmatched M-Pesa deposits",
    )
    return clearing.id, suspense.id


async def open_member_account(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> uuid.UUID:
    account = await ledger.open_account(
        session,
        tenant_id=tenant_id,
        asset=ASSET,
        purpose="savings",
        owner_type="user",
        owner_id=user_id,
        name="Savings",
    )
    return account.id
