"""Ledger tables: assets, accounts (+ balance shards for hot accounts), transactions,
postings and holds. Postings and transactions are append-only (the app role may not
UPDATE or DELETE them); balances live on the account row or, for hot accounts, on shards.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Identity,
    SmallInteger,
    String,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ludus.core.kit.models import Base, IdMixin, TenantMixin


class OwnerType(enum.StrEnum):
    user = "user"
    tenant = "tenant"
    system = "system"


class AccountStatus(enum.StrEnum):
    active = "active"
    frozen = "frozen"
    closed = "closed"


class HoldStatus(enum.StrEnum):
    pending = "pending"
    posted = "posted"
    voided = "voided"
    expired = "expired"


class Purpose(enum.StrEnum):
    """Common purposes; any short lowercase word is accepted."""

    wallet = "wallet"
    reserve = "reserve"
    revenue = "revenue"
    rewards_pool = "rewards_pool"
    fees = "fees"
    clearing = "clearing"
    suspense = "suspense"
    escrow = "escrow"
    savings = "savings"
    pool = "pool"


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Asset(IdMixin, TenantMixin, Base):
    __tablename__ = "ledger_assets"

    code: Mapped[str] = mapped_column(String(16), nullable=False)
    scale: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    created_at: Mapped[datetime] = _created()


class Account(IdMixin, TenantMixin, Base):
    __tablename__ = "ledger_accounts"

    asset: Mapped[str] = mapped_column(String(16), nullable=False)
    owner_type: Mapped[str] = mapped_column(String(16), nullable=False)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str | None] = mapped_column(String(200))
    allow_negative: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=AccountStatus.active)
    # > 0: the balance is spread over this many rows in ledger_balance_shards (hot accounts).
    shards: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=0)
    balance: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    pending_out: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class BalanceShard(Base):
    __tablename__ = "ledger_balance_shards"

    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ledger_accounts.id", ondelete="RESTRICT"), primary_key=True
    )
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    balance: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class LedgerTransaction(IdMixin, Base):
    __tablename__ = "ledger_transactions"

    # No foreign key to tenants here or on postings: see the migration (hot write path).
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(255), nullable=False)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, nullable=False, default=dict)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    # Unique where set (partial index): a transaction is reversed at most once.
    reversal_of: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("ledger_transactions.id", ondelete="RESTRICT")
    )
    hold_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = _created()

    # Not a column: True when a call returned an earlier transaction for the same key.
    replayed = False


class Posting(Base):
    __tablename__ = "ledger_postings"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    transaction_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ledger_transactions.id", ondelete="RESTRICT"), nullable=False
    )
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)  # checked, no FK
    asset: Mapped[str] = mapped_column(String(16), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Balance of the account (or of its shard, for hot accounts) right after this posting.
    balance_after: Mapped[int] = mapped_column(BigInteger, nullable=False)
    shard: Mapped[int] = mapped_column(SmallInteger, nullable=False)  # -1: the account row
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)  # version after, per shard
    created_at: Mapped[datetime] = _created()


class Hold(IdMixin, TenantMixin, Base):
    __tablename__ = "ledger_holds"

    idempotency_key: Mapped[str] = mapped_column(String(255), nullable=False)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    from_account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ledger_accounts.id", ondelete="RESTRICT"), nullable=False
    )
    to_account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ledger_accounts.id", ondelete="RESTRICT"), nullable=False
    )
    asset: Mapped[str] = mapped_column(String(16), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    posted_amount: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=HoldStatus.pending)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    transaction_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("ledger_transactions.id", ondelete="RESTRICT")
    )
    reason: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, nullable=False, default=dict)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = _created()
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
