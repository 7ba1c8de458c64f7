"""The SQL of a P2P send: two statements besides the ledger call, both indexed and bounded.

1. `lock_and_read`: one call of `paya_send_facts()` (a PL/pgSQL function, migration
   paya_0002). It locks the sender's profile (FOR UPDATE), reads the recipient's, and then,
   in a statement of its own and so with a snapshot taken after the lock, reads what the
   limits and the fraud rules need: the sender's last-24 h sends (at most as many rows as
   the largest count limit: past that the send is refused anyway), both parties' open rule
   flags, and the rows each fraud rule looks at, only for rules whose flag is not already
   open (re-checking those cannot raise anything new). A plain SQL statement could not do
   both: its snapshot is taken before it waits on the lock.
2. `insert_payment`: the payment row, with the feed NOTIFY in the same statement.

Both run on the session's Core connection: the ORM's per-statement work buys nothing here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import column, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ludus.paya.config import PayaConfig
from ludus.paya.rules import (
    CIRCULAR,
    LOAD_THEN_SEND,
    MONEY_MULE,
    PRIVATE_ONLY,
    VELOCITY,
    LoadFact,
    PaymentFact,
)


@dataclass(frozen=True)
class Party:
    user_id: uuid.UUID
    username: str
    wallet_account_id: uuid.UUID
    status: str
    created_at: datetime


@dataclass(frozen=True)
class SendFacts:
    sends_hour: int  # the sender's sends in the last hour (up to the row bound)
    sends_day: int
    recipients_day: int  # distinct recipients in the last 24 h
    paid_recipient_today: bool
    sent_today: int  # tokens sent in the last 24 h
    skip: frozenset[str]  # rules not to evaluate (flag already open, or cannot fire)
    recent: list[PaymentFact] = field(default_factory=list)  # excluding this payment
    loads: list[LoadFact] = field(default_factory=list)
    sent_in_window: int = 0  # private-only window, excluding this payment
    public_in_window: int = 0


@dataclass
class SentPayment:
    """A payment as written by `insert_payment` (its columns; no ORM instance to build)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    sender_id: uuid.UUID
    recipient_id: uuid.UUID
    sender_username: str
    recipient_username: str
    amount: int
    memo: str
    public: bool
    ledger_tx_id: uuid.UUID
    idempotency_key: str | None
    created_at: datetime


_FACT_COLUMNS = (
    "s_user_id", "s_username", "s_wallet", "s_status", "s_created_at",
    "r_user_id", "r_username", "r_wallet", "r_status", "r_created_at",
    "sends_hour", "sends_day", "recipients_day", "paid_recipient_today", "sent_today",
    "sender_rules", "recipient_rules", "velocity", "mule", "circular", "loads", "private",
)  # fmt: skip
# Declared columns (untyped: the driver's values are used as they come) let SQLAlchemy
# keep the result description with the compiled statement instead of rebuilding it from
# the cursor on every call.
_SEND_FACTS = text(
    f"SELECT {', '.join(_FACT_COLUMNS)} FROM paya_send_facts(:tenant, :sender, :key, :public,"
    " :new_after, :day_ago, :hour_ago, :limit_rows, :mule_since, :mule_rows, :circular_since,"
    " :load_since, :private_since)"
).columns(*(column(c) for c in _FACT_COLUMNS))
SENDER_RULES = (VELOCITY, CIRCULAR, LOAD_THEN_SEND, PRIVATE_ONLY)


def _payments(rows: list[list[Any]] | None) -> list[tuple[str, PaymentFact]]:
    return [
        (r[0], PaymentFact(uuid.UUID(r[1]), uuid.UUID(r[2]), r[3], r[4],
                           datetime.fromisoformat(r[5])))
        for r in rows or ()
    ]  # fmt: skip


async def lock_and_read(
    conn: AsyncConnection,
    tenant_id: uuid.UUID,
    *,
    sender_id: uuid.UUID,
    recipient_key: str,
    public: bool,
    config: PayaConfig,
    now: datetime,
) -> tuple[Party | None, Party | None, SendFacts | None]:
    """(sender, recipient, facts) in one round trip; the sender's profile row stays locked
    until the transaction ends. Facts are None when the send is refused anyway (no such
    recipient, a self-transfer, either side frozen)."""
    limits, fraud, new = config.limits, config.fraud, config.new_account
    params = {
        "tenant": tenant_id,
        "sender": sender_id,
        "key": recipient_key,
        "public": public,
        "new_after": now - timedelta(days=new.cooling_period_days),
        "day_ago": now - timedelta(days=1),
        "hour_ago": now - timedelta(hours=1),
        "limit_rows": max(limits.sends_per_day, limits.sends_per_hour),
        "mule_since": now - timedelta(hours=24),
        "mule_rows": fraud.mule_unique_senders_24h,
        "circular_since": now - timedelta(hours=fraud.circular_window_hours),
        "load_since": now - timedelta(minutes=fraud.load_then_send_minutes),
        "private_since": now - timedelta(days=fraud.private_only_window_days),
    }
    row = (await conn.execute(_SEND_FACTS, params)).one_or_none()
    if row is None:
        return None, None, None
    sender = Party(*row[:5])
    recipient = Party(*row[5:10]) if row.r_user_id is not None else None
    if row.sends_day is None:
        return sender, recipient, None
    skip = {r for r in SENDER_RULES if r in row.sender_rules}
    if MONEY_MULE in row.recipient_rules:
        skip.add(MONEY_MULE)
    if recipient is None or now - recipient.created_at >= timedelta(days=new.cooling_period_days):
        skip.add(LOAD_THEN_SEND)
    if row.private is None:
        skip.add(PRIVATE_ONLY)
    recent: dict[str, PaymentFact] = {}  # by payment id: the rule queries may overlap
    for rows in (row.velocity, row.mule, row.circular):
        recent.update(_payments(rows))
    loads = [LoadFact(sender.user_id, r[0], datetime.fromisoformat(r[1])) for r in row.loads or ()]
    sent, public_sent = row.private or (0, 0)
    facts = SendFacts(
        sends_hour=row.sends_hour,
        sends_day=row.sends_day,
        recipients_day=row.recipients_day,
        paid_recipient_today=row.paid_recipient_today,
        sent_today=row.sent_today,
        skip=frozenset(skip),
        recent=list(recent.values()),
        loads=loads,
        sent_in_window=sent,
        public_in_window=public_sent,
    )
    return sender, recipient, facts


_INSERT = (
    "INSERT INTO paya_payments (id, tenant_id, sender_id, recipient_id, sender_username,"
    " recipient_username, amount, memo, public, ledger_tx_id, idempotency_key, created_at)"
    " VALUES (:id, :tenant_id, :sender_id, :recipient_id, :sender_username,"
    " :recipient_username, :amount, :memo, :public, :ledger_tx_id, :idempotency_key,"
    " :created_at)"
)
_INSERT_PRIVATE = text(_INSERT)
# A data-modifying CTE: the NOTIFY is queued only for the row inserted, in the same
# transaction, so it is delivered only if the payment commits.
_INSERT_PUBLIC = text(
    f"WITH p AS ({_INSERT} RETURNING id) SELECT pg_notify(:channel, :payload) FROM p"
)


async def insert_payment(
    conn: AsyncConnection, values: dict[str, Any], notify: tuple[str, str] | None
) -> None:
    """Insert a payment (all columns in `values`); `notify` = (channel, payload) if public."""
    if notify is None:
        await conn.execute(_INSERT_PRIVATE, values)
    else:
        channel, payload = notify
        await conn.execute(_INSERT_PUBLIC, {**values, "channel": channel, "payload": payload})
