"""Ledger read models: balances, statement lines, supply, accounts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ludus.core.kit.schemas import Schema


class Balance(Schema):
    account_id: uuid.UUID
    asset: str
    posted: int  # sum of postings (minor units)
    pending_out: int  # reserved by pending holds
    available: int  # posted - pending_out
    as_of: datetime | None = None


class StatementLine(Schema):
    posting_id: int
    transaction_id: uuid.UUID
    kind: str
    idempotency_key: str
    amount: int
    balance_after: int  # of the account, or of its shard for hot (sharded) accounts
    shard: int
    metadata: dict[str, Any]
    created_at: datetime


class Supply(Schema):
    asset: str
    total_supply: int


class AccountOut(Schema):
    id: uuid.UUID
    asset: str
    owner_type: str
    owner_id: uuid.UUID | None
    purpose: str
    name: str | None
    allow_negative: bool
    status: str
    shards: int
    created_at: datetime
